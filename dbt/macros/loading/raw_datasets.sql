{#- marketing_raw_datasets() (each raw dataset's columns, logical types and format) is
    generated from the marketing domain: marketing_raw_datasets.sql beside this file. -#}

{#- The metadata store's dq_checks table (python/marketing_core/metadata.py). -#}
{% macro marketing_dq_checks_columns() %}
    {{ return([
        ["id", "integer"], ["run_id", "string"], ["dataset", "string"], ["ds", "string"],
        ["file", "string"], ["check_name", "string"], ["column_name", "string"],
        ["severity", "string"], ["status", "string"], ["rows_in", "integer"],
        ["rows_failed", "integer"], ["signature", "string"], ["sample_values", "string"],
        ["checked_at", "string"]]) }}
{% endmacro %}

{#- Logical type -> the adapter's column type. -#}
{% macro marketing_type(logical) %}
    {{ return(adapter.dispatch('marketing_type', 'marketing_core')(logical)) }}
{% endmacro %}

{% macro default__marketing_type(logical) %}
    {{ return({"string": "varchar", "boolean": "boolean", "double": "double",
               "integer": "bigint", "date": "date", "timestamp": "timestamp"}[logical]) }}
{% endmacro %}

{% macro snowflake__marketing_type(logical) %}
    {{ return({"string": "varchar", "boolean": "boolean", "double": "float",
               "integer": "number(38,0)", "date": "date", "timestamp": "timestamp_ntz"}[logical]) }}
{% endmacro %}

{#- The bookkeeping columns every raw table carries after the dataset's own columns. -#}
{% macro marketing_raw_meta_columns() %}
    {{ return([["ds", "date"], ["_loaded_at", "timestamp"], ["_source_file", "string"]]) }}
{% endmacro %}

{% macro marketing_raw_relation(name) %}
    {{ return(api.Relation.create(database=target.database, schema=var('raw_schema', 'raw'),
                                  identifier=name, type='table')) }}
{% endmacro %}

{#- CREATE SCHEMA / TABLE IF NOT EXISTS for the raw tables (safe to repeat). -#}
{% macro create_raw_tables() %}
    {% do run_query("create schema if not exists " ~ adapter.quote_as_configured(target.database, 'database') ~ "." ~ var('raw_schema', 'raw')) %}
    {% for name, spec in marketing_raw_datasets().items() %}
        {% do run_query(marketing_create_table_sql(marketing_raw_relation(name), spec["columns"] + marketing_raw_meta_columns())) %}
    {% endfor %}
    {% do run_query(marketing_create_table_sql(marketing_raw_relation("dq_checks"), marketing_dq_checks_columns() + [["_loaded_at", "timestamp"]])) %}
{% endmacro %}

{% macro marketing_create_table_sql(relation, columns) %}
    {%- set cols = [] -%}
    {%- for c in columns -%}{%- do cols.append(c[0] ~ " " ~ marketing_type(c[1])) -%}{%- endfor -%}
    {{ return("create table if not exists " ~ relation ~ " (" ~ cols | join(", ") ~ ")") }}
{% endmacro %}
