{#- Generated from the marketing domain (marketing_core/domains/marketing/) by
    `python -m marketing_core.dbt_files`: do not edit, change the domain and run it again.
    One entry per raw dataset: its columns in file order with a logical type, and its
    file format. Both adapters' loaders build their DDL and SELECT lists from it. -#}
{% macro marketing_raw_datasets() %}
    {{ return({
        "campaigns": {"format": "json", "columns": [["campaign_id", "string"], ["campaign_name", "string"]]},
        "forms": {"format": "json", "columns": [["form_id", "string"], ["form_type", "string"]]},
        "pages": {"format": "json", "columns": [["page_id", "string"], ["page_url", "string"], ["page_title", "string"]]},
        "contacts": {"format": "csv", "columns": [["contact_id", "string"], ["first_name", "string"], ["last_name", "string"], ["email", "string"], ["company", "string"], ["industry", "string"], ["lead_source", "string"], ["job_title", "string"], ["country", "string"], ["opted_in", "boolean"], ["signup_date", "timestamp"]]},
        "form_fills": {"format": "parquet", "columns": [["fill_id", "string"], ["form_id", "string"], ["contact_id", "string"], ["campaign_id", "string"], ["fill_date", "date"], ["referrer_url", "string"], ["user_agent", "string"], ["estimated_value", "double"]]},
        "website_activity": {"format": "json", "columns": [["session_id", "string"], ["contact_id", "string"], ["campaign_id", "string"], ["page_id", "string"], ["page_url", "string"], ["page_title", "string"], ["event_date", "date"], ["event_type", "string"], ["session_duration", "double"], ["pages_viewed", "integer"], ["bounce", "boolean"], ["referrer_domain", "string"]]},
    }) }}
{% endmacro %}
