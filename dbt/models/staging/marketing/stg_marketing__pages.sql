with source as (
    select * from {{ source('marketing', 'pages') }}
)

select
    cast(trim(page_id) as {{ dbt.type_string() }}) as page_id,
    cast(trim(page_url) as {{ dbt.type_string() }}) as page_url,
    cast(trim(page_title) as {{ dbt.type_string() }}) as page_title,
    cast(ds as date) as ds,
    _loaded_at as loaded_at
from source
