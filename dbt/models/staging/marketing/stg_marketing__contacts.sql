with source as (
    select * from {{ source('marketing', 'contacts') }}
)

select
    cast(lower(trim(contact_id)) as {{ dbt.type_string() }}) as contact_id,
    cast(trim(first_name) as {{ dbt.type_string() }}) as first_name,
    cast(trim(last_name) as {{ dbt.type_string() }}) as last_name,
    cast(lower(trim(email)) as {{ dbt.type_string() }}) as email,
    cast(trim(company) as {{ dbt.type_string() }}) as company,
    cast(trim(industry) as {{ dbt.type_string() }}) as industry,
    cast(trim(lead_source) as {{ dbt.type_string() }}) as lead_source,
    cast(trim(job_title) as {{ dbt.type_string() }}) as job_title,
    cast(trim(country) as {{ dbt.type_string() }}) as country,
    cast(opted_in as boolean) as is_opted_in,
    cast(signup_date as {{ dbt.type_timestamp() }}) as signed_up_at,
    cast(signup_date as date) as signup_date,
    cast(ds as date) as ds,
    _loaded_at as loaded_at
from source
