with source as (
    select * from {{ source('marketing', 'dq_checks') }}
)

select
    cast(id as {{ dbt.type_int() }}) as dq_check_id,
    cast(run_id as {{ dbt.type_string() }}) as run_id,
    cast(dataset as {{ dbt.type_string() }}) as dataset,
    cast(ds as date) as ds,
    cast(file as {{ dbt.type_string() }}) as file_name,
    cast(check_name as {{ dbt.type_string() }}) as check_name,
    cast(column_name as {{ dbt.type_string() }}) as column_name,
    cast(lower(severity) as {{ dbt.type_string() }}) as severity,
    cast(lower(status) as {{ dbt.type_string() }}) as status,
    cast(rows_in as {{ dbt.type_bigint() }}) as rows_in,
    cast(rows_failed as {{ dbt.type_bigint() }}) as rows_failed,
    cast(signature as {{ dbt.type_string() }}) as signature,
    cast(sample_values as {{ dbt.type_string() }}) as sample_values,
    cast(checked_at as {{ dbt.type_timestamp() }}) as checked_at,
    _loaded_at as loaded_at
from source
