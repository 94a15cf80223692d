-- The KPI tables must add up to the staging rows they summarise: sessions, fills, pipeline
-- value and contacts. Returns one row per figure that does not reconcile.
{{ config(tags=['reconcile']) }}

with staging as (
    select
        (select count(*) from {{ ref('stg_marketing__website_activity') }}) as sessions,
        (select count(*) from {{ ref('stg_marketing__form_fills') }}) as form_fills,
        (select coalesce(sum(estimated_value), 0) from {{ ref('stg_marketing__form_fills') }}) as pipeline_value,
        (select count(*) from {{ ref('stg_marketing__contacts') }}) as contacts,
        (select count(*) from {{ ref('stg_marketing__website_activity') }} where is_bounce) as bounces
),

campaign_kpis as (
    select
        coalesce(sum(sessions), 0) as sessions,
        coalesce(sum(form_fills), 0) as form_fills,
        coalesce(sum(estimated_pipeline_value), 0) as pipeline_value,
        coalesce(sum(bounced_sessions), 0) as bounces
    from {{ ref('mart_campaign_performance_daily') }}
),

funnel as (
    select
        coalesce(sum(contacts), 0) as contacts,
        coalesce(sum(sessions), 0) as sessions,
        coalesce(sum(form_fills), 0) as form_fills
    from {{ ref('mart_lead_funnel') }}
),

forms as (
    select
        coalesce(sum(form_fills), 0) as form_fills,
        coalesce(sum(estimated_pipeline_value), 0) as pipeline_value
    from {{ ref('mart_form_performance') }}
),

checks as (
    select 'campaign sessions' as figure, cast(c.sessions as {{ dbt.type_float() }}) as kpi, cast(s.sessions as {{ dbt.type_float() }}) as staging from campaign_kpis as c, staging as s
    union all
    select 'campaign bounces', c.bounces, s.bounces from campaign_kpis as c, staging as s
    union all
    select 'campaign form fills', c.form_fills, s.form_fills from campaign_kpis as c, staging as s
    union all
    select 'campaign pipeline value', c.pipeline_value, s.pipeline_value from campaign_kpis as c, staging as s
    union all
    select 'funnel contacts', f.contacts, s.contacts from funnel as f, staging as s
    union all
    select 'funnel sessions', f.sessions, s.sessions from funnel as f, staging as s
    union all
    select 'funnel form fills', f.form_fills, s.form_fills from funnel as f, staging as s
    union all
    select 'form performance fills', f.form_fills, s.form_fills from forms as f, staging as s
    union all
    select 'form performance pipeline value', f.pipeline_value, s.pipeline_value from forms as f, staging as s
)

select figure, kpi, staging
from checks
where abs(kpi - staging) > {{ var('reconcile_tolerance', 0.01) }}
