"""A stored model as a TensorFlow SavedModel that takes raw review text (``export --saved-model``).

``text_graph`` is the words-v1 tokenizer (models.vocabulary) as TensorFlow string and tensor ops,
shared by every model family; ``export`` builds the SavedModel, with each family's in-graph
scoring of the tokens registered in ``export.FAMILY_SCORERS``. Qt-free, and TensorFlow is
imported only when a model is exported.
"""
