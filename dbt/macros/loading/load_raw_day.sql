{#-
  load_raw_day: put one day's valid files into the raw tables, idempotently per day.

    dbt run-operation load_raw_day --args '{ds: 2025-05-25, raw_root: data/bucket/marketing-data}'

  Files are read from <raw_root>/valid-data/<dataset>/ds=<ds>/ (the bucket layout of
  ../shared/spec/datasets.md). Every raw table gets the dataset's columns plus ds,
  _loaded_at and _source_file; the day's previous rows are deleted in the same transaction
  as the new ones are inserted, so a rerun replaces the day instead of adding to it.
  `datasets` (optional) limits the load to some datasets. A dataset with no file for the
  day is an error unless allow_missing is true.
-#}
{% macro load_raw_day(ds, raw_root=none, datasets=none, allow_missing=false) %}
    {% set ds = marketing_check_ds(ds) %}
    {% set raw_root = (raw_root or var('raw_root')) | string %}
    {% set all = marketing_raw_datasets() %}
    {% set names = datasets if datasets else all.keys() | list %}
    {% for name in names %}
        {% if name not in all %}
            {% do exceptions.raise_compiler_error("load_raw_day: unknown dataset " ~ name ~ "; known: " ~ all.keys() | list | join(", ")) %}
        {% endif %}
    {% endfor %}
    {% do create_raw_tables() %}
    {% set loaded = adapter.dispatch('load_raw_day', 'marketing_core')(ds, raw_root.rstrip('/'), names, allow_missing) %}
    {% do adapter.commit() %}
    {% for name in names %}
        {% do log("load_raw_day " ~ ds ~ " " ~ name ~ ": " ~ loaded.get(name, 0) ~ " rows", info=true) %}
    {% endfor %}
    {{ return(loaded) }}
{% endmacro %}

{% macro marketing_check_ds(ds) %}
    {% set ds = ds | string %}
    {% if not modules.re.match('^\\d{4}-\\d{2}-\\d{2}$', ds) %}
        {% do exceptions.raise_compiler_error("ds must be YYYY-MM-DD, got " ~ ds) %}
    {% endif %}
    {{ return(ds) }}
{% endmacro %}

{#- The bucket layout as marketing_core.layout spells it (src/layout.rs): a day of a
    dataset is valid-data/<dataset>/ds=<ds>/. The only spelling in dbt; tests/test_layout.py
    renders these macros and compares them with the layout module. -#}
{% macro marketing_valid_root(raw_root) %}
    {{ return(raw_root.rstrip('/') ~ "/valid-data/") }}
{% endmacro %}

{% macro marketing_day_path(name, ds) %}
    {{ return(name ~ "/ds=" ~ ds) }}
{% endmacro %}

{% macro marketing_day_prefix(raw_root, name, ds) %}
    {{ return(marketing_valid_root(raw_root) ~ marketing_day_path(name, ds)) }}
{% endmacro %}

{#- The day's DQ report: dq-reports/<dataset>/ds=<ds>/report.json. -#}
{% macro marketing_report_path(raw_root, name, ds) %}
    {{ return(raw_root.rstrip('/') ~ "/dq-reports/" ~ marketing_day_path(name, ds) ~ "/report.json") }}
{% endmacro %}

{# ------------------------------------------------------------------ DuckDB -- #}

{% macro duckdb__load_raw_day(ds, raw_root, names, allow_missing) %}
    {% if raw_root.startswith('s3://') %}
        {% do duckdb_prepare_s3() %}
    {% endif %}
    {% set loaded = {} %}
    {% for name in names %}
        {% set spec = marketing_raw_datasets()[name] %}
        {% set files = duckdb_day_files(marketing_day_prefix(raw_root, name, ds)) %}
        {% set relation = marketing_raw_relation(name) %}
        {#- A day whose every row was quarantined has no valid file (an empty JSON Lines file
            cannot be read back); its DQ report says so, and the day loads as zero rows. -#}
        {% if files | length == 0 and not allow_missing and not duckdb_validated_without_valid_rows(marketing_report_path(raw_root, name, ds)) %}
            {% do exceptions.raise_compiler_error("load_raw_day: no file for " ~ name ~ " under " ~ marketing_day_prefix(raw_root, name, ds) ~ " and no DQ report at " ~ marketing_report_path(raw_root, name, ds) ~ " saying the day had no valid row") %}
        {% endif %}
        {% set cols = [] %}{% set exprs = [] %}
        {% for c in spec["columns"] %}
            {% do cols.append(c[0]) %}
            {% do exprs.append("cast(" ~ adapter.quote(c[0]) ~ " as " ~ marketing_type(c[1]) ~ ")") %}
        {% endfor %}
        {% set selects = [] %}
        {% for f in files %}
            {% do selects.append("select " ~ exprs | join(", ") ~ ", date '" ~ ds ~ "', cast(now() as timestamp), filename from " ~ duckdb_reader(f, spec["columns"])) %}
        {% endfor %}
        {% set sql %}
            delete from {{ relation }} where ds = date '{{ ds }}';
            {% if selects %}
            insert into {{ relation }} ({{ cols | join(", ") }}, ds, _loaded_at, _source_file)
            {{ selects | join("\nunion all\n") }};
            {% endif %}
        {% endset %}
        {% do run_query(sql) %}
        {% set n = run_query("select count(*) from " ~ relation ~ " where ds = date '" ~ ds ~ "'").columns[0].values()[0] %}
        {% do loaded.update({name: n}) %}
    {% endfor %}
    {{ return(loaded) }}
{% endmacro %}

{#- The day's data files under prefix (a directory or an s3:// prefix). -#}
{% macro duckdb_day_files(prefix) %}
    {% set result = run_query("select file from glob('" ~ prefix ~ "/*') order by file") %}
    {% set files = [] %}
    {% for f in result.columns[0].values() %}
        {% if f.endswith('.csv') or f.endswith('.json') or f.endswith('.jsonl') or f.endswith('.parquet') %}
            {% do files.append(f) %}
        {% endif %}
    {% endfor %}
    {{ return(files) }}
{% endmacro %}

{#- True when the DQ report at path exists and counts no valid row. -#}
{% macro duckdb_validated_without_valid_rows(path) %}
    {% if run_query("select count(*) from glob('" ~ path ~ "')").columns[0].values()[0] == 0 %}
        {{ return(false) }}
    {% endif %}
    {% set rows_valid = run_query("select rows_valid from read_json('" ~ path ~ "', format = 'auto', columns = {'rows_valid': 'BIGINT'})").columns[0].values()[0] %}
    {{ return(rows_valid == 0) }}
{% endmacro %}

{#- A table function reading one file with the contract's column types; the format
    follows the file's extension (the validator keeps the generator's formats). -#}
{% macro duckdb_reader(path, columns) %}
    {% set typed = [] %}
    {% for c in columns %}{% do typed.append("'" ~ c[0] ~ "': '" ~ marketing_type(c[1]) ~ "'") %}{% endfor %}
    {% set types = "{" ~ typed | join(", ") ~ "}" %}
    {% if path.endswith('.parquet') %}
        {{ return("read_parquet('" ~ path ~ "', filename = true)") }}
    {% elif path.endswith('.csv') %}
        {#- An empty field is a null, as the generator writes nulls. -#}
        {{ return("read_csv('" ~ path ~ "', header = true, auto_detect = false, columns = " ~ types ~ ", filename = true)") }}
    {% else %}
        {{ return("read_json('" ~ path ~ "', format = 'newline_delimited', columns = " ~ types ~ ", filename = true)") }}
    {% endif %}
{% endmacro %}

{#- httpfs comes from the duckdb-extension-httpfs wheel (MARKETING_CORE_HTTPFS_EXTENSION is
    the file; marketing_core.warehouse sets it), never from the network. The S3 secret uses
    the standard AWS variables; AWS_ENDPOINT_URL points at MinIO/SeaweedFS when set. -#}
{% macro duckdb_prepare_s3() %}
    {% set ext = env_var('MARKETING_CORE_HTTPFS_EXTENSION', '') %}
    {% if ext %}
        {% do run_query("load '" ~ ext ~ "'") %}
    {% else %}
        {% do run_query("load httpfs") %}
    {% endif %}
    {% set endpoint = env_var('AWS_ENDPOINT_URL_S3', env_var('AWS_ENDPOINT_URL', '')) %}
    {% set opts = ["type s3", "provider config"] %}
    {% if env_var('AWS_ACCESS_KEY_ID', '') %}
        {% do opts.append("key_id '" ~ env_var('AWS_ACCESS_KEY_ID') ~ "'") %}
        {% do opts.append("secret '" ~ env_var('AWS_SECRET_ACCESS_KEY', '') ~ "'") %}
    {% endif %}
    {% do opts.append("region '" ~ env_var('AWS_REGION', env_var('AWS_DEFAULT_REGION', 'us-east-1')) ~ "'") %}
    {% if endpoint %}
        {% set parts = endpoint.split('://') %}
        {% do opts.append("endpoint '" ~ parts[-1].rstrip('/') ~ "'") %}
        {% do opts.append("url_style 'path'") %}
        {% do opts.append("use_ssl " ~ ('true' if parts[0] == 'https' else 'false')) %}
    {% endif %}
    {% do run_query("create or replace temporary secret marketing_s3 (" ~ opts | join(", ") ~ ")") %}
{% endmacro %}
