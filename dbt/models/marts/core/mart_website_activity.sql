{{
    config(
        materialized='incremental',
        unique_key='session_id',
        incremental_strategy=marketing_incremental_strategy(),
        on_schema_change='append_new_columns',
        post_hook="{{ marketing_prune_reloaded_day('session_id', 'stg_marketing__website_activity') }}",
        cluster_by=['event_date']
    )
}}

with sessions as (
    select * from {{ ref('stg_marketing__website_activity') }}
    {{ marketing_incremental_window('ds') }}
),

campaigns as (
    select campaign_id, campaign_name, ds from {{ ref('stg_marketing__campaigns') }}
)

select
    sessions.session_id,
    sessions.contact_id,
    sessions.campaign_id,
    campaigns.campaign_name,
    sessions.page_id,
    sessions.page_url,
    sessions.page_title,
    sessions.event_date,
    sessions.event_type,
    sessions.session_duration_seconds,
    sessions.pages_viewed,
    sessions.is_bounce,
    sessions.referrer_domain,
    sessions.ds,
    sessions.loaded_at,
    {{ dbt.current_timestamp() }} as dbt_updated_at
from sessions
left join campaigns
    on sessions.campaign_id = campaigns.campaign_id and sessions.ds = campaigns.ds
