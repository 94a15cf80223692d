{{ config(materialized='table', cluster_by=['cohort_date']) }}

-- Funnel by lead source and industry for each day's signups: contacts -> contacts with a
-- web session -> contacts with a form fill (sessions and fills counted over all days).
with contacts as (
    select contact_id, signup_date, lead_source, industry from {{ ref('mart_contacts') }}
),

sessions as (
    select contact_id, count(*) as sessions
    from {{ ref('mart_website_activity') }}
    group by contact_id
),

fills as (
    select contact_id, count(*) as form_fills, sum(estimated_value) as estimated_pipeline_value
    from {{ ref('mart_form_fills') }}
    group by contact_id
),

funnel as (
    select
        contacts.signup_date as cohort_date,
        contacts.lead_source,
        contacts.industry,
        count(*) as contacts,
        sum(case when sessions.sessions > 0 then 1 else 0 end) as contacts_with_sessions,
        coalesce(sum(sessions.sessions), 0) as sessions,
        sum(case when fills.form_fills > 0 then 1 else 0 end) as contacts_with_fills,
        coalesce(sum(fills.form_fills), 0) as form_fills,
        coalesce(sum(fills.estimated_pipeline_value), 0) as estimated_pipeline_value
    from contacts
    left join sessions on contacts.contact_id = sessions.contact_id
    left join fills on contacts.contact_id = fills.contact_id
    group by contacts.signup_date, contacts.lead_source, contacts.industry
)

select
    {{ marketing_key(['cohort_date', 'lead_source', 'industry']) }} as funnel_id,
    cohort_date,
    lead_source,
    industry,
    contacts,
    contacts_with_sessions,
    sessions,
    contacts_with_fills,
    form_fills,
    estimated_pipeline_value,
    cast(contacts_with_sessions as {{ dbt.type_float() }}) / nullif(contacts, 0) as session_rate,
    cast(contacts_with_fills as {{ dbt.type_float() }}) / nullif(contacts_with_sessions, 0) as session_to_fill_rate,
    cast(contacts_with_fills as {{ dbt.type_float() }}) / nullif(contacts, 0) as contact_to_fill_rate
from funnel
