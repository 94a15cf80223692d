{{
    config(
        materialized='incremental',
        unique_key='fill_id',
        incremental_strategy=marketing_incremental_strategy(),
        on_schema_change='append_new_columns',
        post_hook="{{ marketing_prune_reloaded_day('fill_id', 'stg_marketing__form_fills') }}",
        cluster_by=['fill_date']
    )
}}

with form_fills as (
    select * from {{ ref('stg_marketing__form_fills') }}
    {{ marketing_incremental_window('ds') }}
),

-- Dimensions are loaded every day; take the form as it was on the fill's day.
forms as (
    select form_id, form_type, ds from {{ ref('stg_marketing__forms') }}
),

campaigns as (
    select campaign_id, campaign_name, ds from {{ ref('stg_marketing__campaigns') }}
)

select
    form_fills.fill_id,
    form_fills.form_id,
    forms.form_type,
    form_fills.contact_id,
    form_fills.campaign_id,
    campaigns.campaign_name,
    form_fills.fill_date,
    form_fills.referrer_url,
    form_fills.user_agent,
    form_fills.estimated_value,
    form_fills.ds,
    form_fills.loaded_at,
    {{ dbt.current_timestamp() }} as dbt_updated_at
from form_fills
left join forms
    on form_fills.form_id = forms.form_id and form_fills.ds = forms.ds
left join campaigns
    on form_fills.campaign_id = campaigns.campaign_id and form_fills.ds = campaigns.ds
