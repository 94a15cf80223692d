{{
    config(
        materialized='incremental',
        unique_key='form_id',
        incremental_strategy=marketing_incremental_strategy(),
        on_schema_change='append_new_columns',
        cluster_by=['ds']
    )
}}

-- One row per form: its latest version among the days considered.
with forms as (
    select * from {{ ref('stg_marketing__forms') }}
    {{ marketing_incremental_window('ds') }}
),

latest as (
    select
        *,
        row_number() over (partition by form_id order by ds desc, loaded_at desc) as version_rank
    from forms
)

select
    form_id,
    form_type,
    ds,
    loaded_at,
    {{ dbt.current_timestamp() }} as dbt_updated_at
from latest
where version_rank = 1
