with source as (
    select * from {{ source('marketing', 'forms') }}
)

select
    cast(trim(form_id) as {{ dbt.type_string() }}) as form_id,
    cast(trim(form_type) as {{ dbt.type_string() }}) as form_type,
    cast(ds as date) as ds,
    _loaded_at as loaded_at
from source
