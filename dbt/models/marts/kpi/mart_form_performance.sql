{{ config(materialized='table', cluster_by=['fill_date']) }}

-- Daily performance of each form: fills, distinct contacts, pipeline value and its share of
-- the day's fills.
with fills as (
    select
        form_id,
        fill_date,
        count(*) as form_fills,
        count(distinct contact_id) as distinct_contacts,
        sum(estimated_value) as estimated_pipeline_value
    from {{ ref('mart_form_fills') }}
    group by form_id, fill_date
),

daily as (
    select fill_date, sum(form_fills) as day_fills from fills group by fill_date
),

forms as (
    select form_id, form_type from {{ ref('mart_forms') }}
)

select
    {{ marketing_key(['fills.form_id', 'fills.fill_date']) }} as form_day_id,
    fills.form_id,
    forms.form_type,
    fills.fill_date,
    fills.form_fills,
    fills.distinct_contacts,
    fills.estimated_pipeline_value,
    fills.estimated_pipeline_value / nullif(fills.form_fills, 0) as avg_estimated_value,
    cast(fills.form_fills as {{ dbt.type_float() }}) / nullif(daily.day_fills, 0) as share_of_day_fills
from fills
inner join daily on fills.fill_date = daily.fill_date
left join forms on fills.form_id = forms.form_id
