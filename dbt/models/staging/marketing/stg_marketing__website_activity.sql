with source as (
    select * from {{ source('marketing', 'website_activity') }}
)

select
    cast(lower(trim(session_id)) as {{ dbt.type_string() }}) as session_id,
    cast(lower(trim(contact_id)) as {{ dbt.type_string() }}) as contact_id,
    cast(trim(campaign_id) as {{ dbt.type_string() }}) as campaign_id,
    cast(trim(page_id) as {{ dbt.type_string() }}) as page_id,
    cast(page_url as {{ dbt.type_string() }}) as page_url,
    cast(page_title as {{ dbt.type_string() }}) as page_title,
    cast(event_date as date) as event_date,
    cast(trim(event_type) as {{ dbt.type_string() }}) as event_type,
    cast(session_duration as {{ dbt.type_float() }}) as session_duration_seconds,
    cast(pages_viewed as {{ dbt.type_int() }}) as pages_viewed,
    cast(bounce as boolean) as is_bounce,
    cast(referrer_domain as {{ dbt.type_string() }}) as referrer_domain,
    cast(ds as date) as ds,
    _loaded_at as loaded_at
from source
