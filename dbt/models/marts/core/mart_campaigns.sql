{{
    config(
        materialized='incremental',
        unique_key='campaign_id',
        incremental_strategy=marketing_incremental_strategy(),
        on_schema_change='append_new_columns',
        cluster_by=['ds']
    )
}}

-- One row per campaign: its latest version among the days considered.
with campaigns as (
    select * from {{ ref('stg_marketing__campaigns') }}
    {{ marketing_incremental_window('ds') }}
),

latest as (
    select
        *,
        row_number() over (partition by campaign_id order by ds desc, loaded_at desc) as version_rank
    from campaigns
)

select
    campaign_id,
    campaign_name,
    ds,
    loaded_at,
    {{ dbt.current_timestamp() }} as dbt_updated_at
from latest
where version_rank = 1
