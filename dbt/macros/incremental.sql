{#- Incremental strategy per adapter: DuckDB deletes the keys it is about to insert
    (delete+insert), Snowflake MERGEs on the key. Either way a rerun replaces rows
    instead of duplicating them. -#}
{% macro marketing_incremental_strategy() %}
    {{ return(adapter.dispatch('marketing_incremental_strategy', 'marketing_core')()) }}
{% endmacro %}

{% macro default__marketing_incremental_strategy() %}
    {{ return('merge') }}
{% endmacro %}

{% macro duckdb__marketing_incremental_strategy() %}
    {{ return('delete+insert') }}
{% endmacro %}

{#- The rows an incremental run reconsiders: the day given by var ds, or else every day
    from the latest one already in the table (which may have been reloaded) onwards. A
    full build (first run, --full-refresh) takes everything. -#}
{% macro marketing_incremental_window(column='ds') %}
    {%- if is_incremental() -%}
        {%- if var('ds', none) -%}
            where {{ column }} = cast('{{ var("ds") }}' as date)
        {%- else -%}
            where {{ column }} >= (select coalesce(max(ds), cast('1900-01-01' as date)) from {{ this }})
        {%- endif -%}
    {%- endif -%}
{% endmacro %}

{#- A readable surrogate key from a few columns (no hashing: keys are short). -#}
{% macro marketing_key(columns) %}
    {%- set parts = [] -%}
    {%- for c in columns -%}
        {%- do parts.append("coalesce(cast(" ~ c ~ " as " ~ dbt.type_string() ~ "), '')") -%}
    {%- endfor -%}
    {{ parts | join(" || '|' || ") }}
{% endmacro %}

{#- Post-hook for fact marts: when a day (var ds) is rebuilt, rows of that day that are no
    longer in staging (the day was reloaded with fewer rows) are removed, so the mart
    mirrors the day exactly; merge or delete+insert alone would keep them. -#}
{% macro marketing_prune_reloaded_day(key, staging_model) %}
    {%- if var('ds', none) -%}
        delete from {{ this }}
        where ds = cast('{{ var("ds") }}' as date)
          and {{ key }} not in (
              select {{ key }} from {{ ref(staging_model) }}
              where ds = cast('{{ var("ds") }}' as date) and {{ key }} is not null
          )
    {%- else -%}
        select 1
    {%- endif -%}
{% endmacro %}
