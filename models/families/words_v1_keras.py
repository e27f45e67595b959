"""Sentiment Studio's words-v1 tokenizer as TensorFlow string operations, for a Keras TextVectorization layer.

This file is copied as it is beside an exported n-gram model (``words_v1.py``): importing it
registers ``words_v1`` with Keras, after which ``keras.saving.load_model("model.keras")`` opens
the model, which then takes raw review strings. It needs only TensorFlow and Keras.

The app's tokenizer (models.vocabulary.tokenize) does, in order: HTML line breaks and tags to
spaces, HTML entities decoded, backticks and curly apostrophes read as "'", lower case, then
words are runs of letters and digits with inner apostrophes kept ("didn't"). The operations
below do the same with RE2 patterns. Where they can differ (rare in reviews): only the common
entities are decoded (&amp; &lt; &gt; &quot; &#39; &apos; &nbsp;; numeric ones are read as
separators, curly apostrophes as apostrophes), and TensorFlow lower-cases where Python
case-folds (only "ß" -> "ss" is done here). Of the 50,000 reviews of the IMDB archive, 4 get
other words (TensorFlow's lower-casing of a dotless "ı" and a "ř"); tests/test_ngram_keras_export.py
checks the first 2,000 test reviews.
"""

import keras
import tensorflow as tf

_ENTITIES = (("&quot;", '"'), ("&#39;", "'"), ("&#039;", "'"), ("&apos;", "'"), ("&lt;", "<"), ("&gt;", ">"),
             ("&nbsp;", " "), ("&amp;", "&"))


@keras.saving.register_keras_serializable(package="sentiment_studio", name="words_v1")
def words_v1(text):
    """Raw review strings -> the same strings as words-v1 words separated by single spaces."""
    text = tf.strings.regex_replace(text, r"(?i)<\s*br\s*(?:/\s*)?>", " ")
    text = tf.strings.regex_replace(text, r"<\s*(?:/\s*)?[a-zA-Z][^<>]{0,200}>", " ")
    for entity, char in _ENTITIES:
        text = tf.strings.regex_replace(text, entity, char, replace_global=True)
    # Numeric entities: curly apostrophes are apostrophes, any other is read as a separator (nearly all
    # that reviews hold are punctuation or symbols).
    text = tf.strings.regex_replace(text, r"(?i)&#(?:821[67]|x201[89]);", "'")
    text = tf.strings.regex_replace(text, r"(?i)&#(?:[0-9]{1,7}|x[0-9a-f]{1,6});", " ")
    text = tf.strings.regex_replace(text, "[`\u2018\u2019]", "'")
    text = tf.strings.lower(text, encoding="utf-8")
    text = tf.strings.regex_replace(text, "\u00df", "ss")  # what Python's casefold does to it
    # Everything that is not a letter, a digit or an apostrophe separates words.
    text = tf.strings.regex_replace(text, r"[^\p{L}\p{N}']+", " ")
    # An apostrophe is kept only between two letters or digits.
    text = tf.strings.regex_replace(text, r"''+", " ")
    text = tf.strings.regex_replace(text, r"(^| )'", "\\1 ")
    text = tf.strings.regex_replace(text, r"'( |$)", " \\1")
    return tf.strings.strip(tf.strings.regex_replace(text, " +", " "))
