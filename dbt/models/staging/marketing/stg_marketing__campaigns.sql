with source as (
    select * from {{ source('marketing', 'campaigns') }}
)

select
    cast(trim(campaign_id) as {{ dbt.type_string() }}) as campaign_id,
    cast(trim(campaign_name) as {{ dbt.type_string() }}) as campaign_name,
    cast(ds as date) as ds,
    _loaded_at as loaded_at
from source
