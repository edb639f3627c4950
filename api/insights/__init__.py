"""Organisation insights in the service: routes (``router``), the organisation's data read from the
database (``service``) and the retest's query (``retest``). The analytics are library code:
``adaptive.insights`` (gaps, training impact, suppression, plots), ``adaptive.change`` (reliable change,
prior removal), ``recommender.progress`` (pathway progress), ``adaptive.synthetic_organisation``.
"""
