{{
    config(
        materialized='incremental',
        unique_key='contact_id',
        incremental_strategy=marketing_incremental_strategy(),
        on_schema_change='append_new_columns',
        post_hook="{{ marketing_prune_reloaded_day('contact_id', 'stg_marketing__contacts') }}",
        cluster_by=['signup_date']
    )
}}

with contacts as (
    select * from {{ ref('stg_marketing__contacts') }}
    {{ marketing_incremental_window('ds') }}
)

select
    contact_id,
    first_name,
    last_name,
    email,
    company,
    industry,
    lead_source,
    job_title,
    country,
    is_opted_in,
    signed_up_at,
    signup_date,
    ds,
    loaded_at,
    {{ dbt.current_timestamp() }} as dbt_updated_at
from contacts
