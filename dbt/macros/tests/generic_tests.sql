{#- Small generic tests written here because dbt packages (dbt_utils) are not installed
    offline. Each returns the failing rows. -#}

{% test unique_combination_of_columns(model, combination_of_columns) %}
select {{ combination_of_columns | join(", ") }}, count(*) as n_rows
from {{ model }}
group by {{ combination_of_columns | join(", ") }}
having count(*) > 1
{% endtest %}

{% test accepted_range(model, column_name, min_value=none, max_value=none) %}
select {{ column_name }}
from {{ model }}
where {{ column_name }} is not null and (
    1 = 0
    {% if min_value is not none %} or {{ column_name }} < {{ min_value }}{% endif %}
    {% if max_value is not none %} or {{ column_name }} > {{ max_value }}{% endif %}
)
{% endtest %}

{% test expression_is_true(model, expression) %}
select *
from {{ model }}
where not ({{ expression }})
{% endtest %}

{#- Row-count budget: the rows of the latest day (var ds, else the latest day present) may
    fall below the previous day's by at most `tolerance` (a fraction; var
    row_count_tolerance by default). Passes when there is no previous day. -#}
{% test row_count_budget(model, date_column, tolerance=none) %}
{% set tolerance = tolerance if tolerance is not none else var('row_count_tolerance', 0.1) %}
with per_day as (
    select {{ date_column }} as day, count(*) as n_rows
    from {{ model }}
    group by {{ date_column }}
),
today_day as (
    select {% if var('ds', none) %}cast('{{ var("ds") }}' as date){% else %}(select max(day) from per_day){% endif %} as day
),
today as (
    select d.day, coalesce(p.n_rows, 0) as n_rows
    from today_day as d
    left join per_day as p on p.day = d.day
),
yesterday as (
    select p.day, p.n_rows
    from per_day as p
    inner join today as t on p.day = {{ dbt.dateadd('day', -1, 't.day') }}
)
select
    t.day as today, t.n_rows as today_rows,
    y.day as yesterday, y.n_rows as yesterday_rows,
    {{ tolerance }} as tolerance
from today as t
inner join yesterday as y on 1 = 1
where t.n_rows < y.n_rows * (1 - {{ tolerance }})
{% endtest %}
