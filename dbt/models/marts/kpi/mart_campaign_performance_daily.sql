{{ config(materialized='table', cluster_by=['activity_date']) }}

-- Daily performance of each campaign: web sessions and the form fills credited to it.
with sessions as (
    select
        campaign_id,
        event_date as activity_date,
        count(*) as sessions,
        sum(case when is_bounce then 1 else 0 end) as bounced_sessions,
        sum(session_duration_seconds) as total_session_duration_seconds,
        sum(pages_viewed) as total_pages_viewed
    from {{ ref('mart_website_activity') }}
    group by campaign_id, event_date
),

fills as (
    select
        campaign_id,
        fill_date as activity_date,
        count(*) as form_fills,
        sum(estimated_value) as estimated_pipeline_value
    from {{ ref('mart_form_fills') }}
    group by campaign_id, fill_date
),

campaign_days as (
    select campaign_id, activity_date from sessions
    union
    select campaign_id, activity_date from fills
),

campaigns as (
    select campaign_id, campaign_name from {{ ref('mart_campaigns') }}
)

select
    {{ marketing_key(['campaign_days.campaign_id', 'campaign_days.activity_date']) }} as campaign_day_id,
    campaign_days.campaign_id,
    campaigns.campaign_name,
    campaign_days.activity_date,
    coalesce(sessions.sessions, 0) as sessions,
    coalesce(sessions.bounced_sessions, 0) as bounced_sessions,
    cast(sessions.bounced_sessions as {{ dbt.type_float() }}) / nullif(sessions.sessions, 0) as bounce_rate,
    cast(sessions.total_session_duration_seconds as {{ dbt.type_float() }}) / nullif(sessions.sessions, 0) as avg_session_duration_seconds,
    cast(sessions.total_pages_viewed as {{ dbt.type_float() }}) / nullif(sessions.sessions, 0) as pages_per_session,
    coalesce(fills.form_fills, 0) as form_fills,
    cast(coalesce(fills.form_fills, 0) as {{ dbt.type_float() }}) / nullif(sessions.sessions, 0) as conversion_rate,
    coalesce(fills.estimated_pipeline_value, 0) as estimated_pipeline_value
from campaign_days
left join sessions
    on campaign_days.campaign_id = sessions.campaign_id and campaign_days.activity_date = sessions.activity_date
left join fills
    on campaign_days.campaign_id = fills.campaign_id and campaign_days.activity_date = fills.activity_date
left join campaigns
    on campaign_days.campaign_id = campaigns.campaign_id
