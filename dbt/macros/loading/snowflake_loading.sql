{#-
  Snowflake raw loading. One-time setup (run by an admin role):

    dbt run-operation create_marketing_stage --target snowflake \
      --args '{bucket_url: s3://marketing-data/valid-data/, storage_integration: MARKETING_S3}'

  creates the three file formats, optionally the storage integration (create_integration:
  true and aws_role_arn: ... — needs ACCOUNTADMIN), the external stage on the bucket's
  valid-data/ prefix and the load report table. Then, per day:

    dbt run-operation load_raw_day --target snowflake --args '{ds: 2025-05-25}'

  deletes the day's rows and COPYs the day's files back in one transaction (FORCE = TRUE:
  the delete is what makes a rerun idempotent, so load history must not skip a file that
  was loaded before). ON_ERROR = SKIP_FILE: a file with a bad row is not loaded; every
  file's outcome (including LOAD_FAILED / PARTIALLY_LOADED and the first error) is written
  to raw.load_report, and the operation fails afterwards unless fail_on_load_error=false.
-#}

{% macro marketing_stage_name() %}
    {{ return(target.database ~ "." ~ var('raw_schema', 'raw') ~ ".marketing_valid_data") }}
{% endmacro %}

{% macro marketing_file_format_name(fmt) %}
    {{ return(target.database ~ "." ~ var('raw_schema', 'raw') ~ ".marketing_" ~ fmt) }}
{% endmacro %}

{% macro create_marketing_stage(bucket_url=none, storage_integration=none, create_integration=false, aws_role_arn=none) %}
    {% set bucket_url = bucket_url or marketing_valid_root(var('raw_root') | string) %}
    {% do run_query("create schema if not exists " ~ target.database ~ "." ~ var('raw_schema', 'raw')) %}
    {% do run_query(marketing_file_formats_sql()) %}
    {% if create_integration %}
        {% if not (storage_integration and aws_role_arn) %}
            {% do exceptions.raise_compiler_error("create_integration needs storage_integration and aws_role_arn") %}
        {% endif %}
        {% do run_query(marketing_storage_integration_sql(storage_integration, aws_role_arn, bucket_url)) %}
    {% endif %}
    {% do run_query(marketing_stage_sql(bucket_url, storage_integration)) %}
    {% do run_query(marketing_load_report_ddl()) %}
    {% do log("created stage " ~ marketing_stage_name() ~ " on " ~ bucket_url, info=true) %}
{% endmacro %}

{% macro marketing_file_formats_sql() %}
    create file format if not exists {{ marketing_file_format_name('csv') }}
        TYPE = CSV SKIP_HEADER = 1 FIELD_OPTIONALLY_ENCLOSED_BY = '"'
        EMPTY_FIELD_AS_NULL = TRUE NULL_IF = () TIMESTAMP_FORMAT = 'YYYY-MM-DD HH24:MI:SS';
    create file format if not exists {{ marketing_file_format_name('json') }}
        TYPE = JSON STRIP_OUTER_ARRAY = FALSE;
    create file format if not exists {{ marketing_file_format_name('parquet') }}
        TYPE = PARQUET
{% endmacro %}

{% macro marketing_storage_integration_sql(name, aws_role_arn, bucket_url) %}
    create storage integration if not exists {{ name }}
        TYPE = EXTERNAL_STAGE STORAGE_PROVIDER = 'S3' ENABLED = TRUE
        STORAGE_AWS_ROLE_ARN = '{{ aws_role_arn }}'
        STORAGE_ALLOWED_LOCATIONS = ('{{ bucket_url }}')
{% endmacro %}

{#- bucket_url 'internal' makes an internal stage (files PUT into it), for tests. -#}
{% macro marketing_stage_sql(bucket_url, storage_integration) %}
    create stage if not exists {{ marketing_stage_name() }}
        {% if bucket_url != 'internal' %}URL = '{{ bucket_url }}'{% endif %}
        {% if storage_integration %}STORAGE_INTEGRATION = {{ storage_integration }}{% endif %}
{% endmacro %}

{% macro marketing_load_report_ddl() %}
    create table if not exists {{ marketing_raw_relation('load_report') }} (
        dataset varchar, ds date, file varchar, status varchar, rows_parsed number,
        rows_loaded number, errors_seen number, first_error varchar, reported_at timestamp_ntz)
{% endmacro %}

{#- The COPY transform for one dataset: positional fields for CSV, paths for JSON and
    Parquet, each cast to the contract's type. -#}
{% macro snowflake_copy_sql(name, spec, ds) %}
    {% set fmt = spec["format"] %}
    {% set cols = [] %}{% set exprs = [] %}
    {% for c in spec["columns"] %}
        {% do cols.append(c[0]) %}
        {% if fmt == 'csv' %}
            {% do exprs.append("$" ~ loop.index ~ "::" ~ marketing_type(c[1])) %}
        {% else %}
            {% do exprs.append("$1:" ~ c[0] ~ "::" ~ marketing_type(c[1])) %}
        {% endif %}
    {% endfor %}
    copy into {{ marketing_raw_relation(name) }} ({{ cols | join(", ") }}, ds, _loaded_at, _source_file)
    from (
        select {{ exprs | join(", ") }}, '{{ ds }}'::date, current_timestamp()::timestamp_ntz, metadata$filename
        from @{{ marketing_stage_name() }}/{{ marketing_day_path(name, ds) }}/
    )
    FILE_FORMAT = (FORMAT_NAME = '{{ marketing_file_format_name(fmt) }}')
    ON_ERROR = 'SKIP_FILE'
    FORCE = TRUE
{% endmacro %}

{% macro snowflake__load_raw_day(ds, raw_root, names, allow_missing) %}
    {% do run_query(marketing_load_report_ddl()) %}
    {% set loaded = {} %}
    {% set failed = [] %}
    {% for name in names %}
        {% set spec = marketing_raw_datasets()[name] %}
        {% do run_query("begin") %}
        {% do run_query("delete from " ~ marketing_raw_relation(name) ~ " where ds = '" ~ ds ~ "'::date") %}
        {% set result = run_query(snowflake_copy_sql(name, spec, ds)) %}
        {% do run_query("commit") %}
        {% set rows = [] %}
        {% for r in result.rows %}
            {% set rec = {} %}
            {% for k in result.column_names %}{% do rec.update({k | lower: r[loop.index0]}) %}{% endfor %}
            {% if rec.get('file') is not none %}
                {% do rows.append("('" ~ name ~ "', '" ~ ds ~ "'::date, '" ~ rec.get('file') ~ "', '" ~ rec.get('status') ~ "', "
                    ~ (rec.get('rows_parsed') or 0) ~ ", " ~ (rec.get('rows_loaded') or 0) ~ ", " ~ (rec.get('errors_seen') or 0) ~ ", "
                    ~ ("null" if rec.get('first_error') is none else "'" ~ (rec.get('first_error') | replace("'", "''")) ~ "'")
                    ~ ", current_timestamp()::timestamp_ntz)") %}
                {% if rec.get('status') not in ('LOADED', 'LOAD_SKIPPED') %}
                    {% do failed.append(name ~ ": " ~ rec.get('file') ~ " " ~ rec.get('status') ~ " " ~ rec.get('first_error')) %}
                {% endif %}
            {% endif %}
        {% endfor %}
        {% if rows %}
            {% do run_query("insert into " ~ marketing_raw_relation('load_report') ~ " values " ~ rows | join(", ")) %}
        {% elif not allow_missing %}
            {% do failed.append(name ~ ": no file under @" ~ marketing_stage_name() ~ "/" ~ marketing_day_path(name, ds) ~ "/") %}
        {% endif %}
        {% set n = run_query("select count(*) from " ~ marketing_raw_relation(name) ~ " where ds = '" ~ ds ~ "'::date").columns[0].values()[0] %}
        {% do loaded.update({name: n}) %}
    {% endfor %}
    {% if failed and var('fail_on_load_error', true) %}
        {% do exceptions.raise_compiler_error("load_raw_day: files not loaded (see " ~ marketing_raw_relation('load_report') ~ "): " ~ failed | join("; ")) %}
    {% endif %}
    {{ return(loaded) }}
{% endmacro %}
