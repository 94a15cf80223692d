{#- Models land in the schema their folder names (staging, marts) on every target, so the
    Airflow DAG, the Python helpers and analysts find them by a fixed name. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
