{{
    config(
        materialized='incremental',
        unique_key='page_id',
        incremental_strategy=marketing_incremental_strategy(),
        on_schema_change='append_new_columns',
        cluster_by=['ds']
    )
}}

-- One row per page: its latest version among the days considered.
with pages as (
    select * from {{ ref('stg_marketing__pages') }}
    {{ marketing_incremental_window('ds') }}
),

latest as (
    select
        *,
        row_number() over (partition by page_id order by ds desc, loaded_at desc) as version_rank
    from pages
)

select
    page_id,
    page_url,
    page_title,
    ds,
    loaded_at,
    {{ dbt.current_timestamp() }} as dbt_updated_at
from latest
where version_rank = 1
