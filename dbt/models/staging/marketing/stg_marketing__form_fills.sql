with source as (
    select * from {{ source('marketing', 'form_fills') }}
)

select
    cast(lower(trim(fill_id)) as {{ dbt.type_string() }}) as fill_id,
    cast(trim(form_id) as {{ dbt.type_string() }}) as form_id,
    cast(lower(trim(contact_id)) as {{ dbt.type_string() }}) as contact_id,
    cast(trim(campaign_id) as {{ dbt.type_string() }}) as campaign_id,
    cast(fill_date as date) as fill_date,
    cast(referrer_url as {{ dbt.type_string() }}) as referrer_url,
    cast(user_agent as {{ dbt.type_string() }}) as user_agent,
    cast(round(estimated_value, 2) as {{ dbt.type_numeric() }}) as estimated_value,
    cast(ds as date) as ds,
    _loaded_at as loaded_at
from source
