"""Model optimization with tensorflow-model-optimization (tfmot): pruning,
quantization-aware training and weight clustering.

tfmot accepts only tf_keras models, so each app model is rebuilt as a tf_keras twin
from the same builder code, its weights copied (and the outputs checked), optimized,
and the result copied back into a Keras 3 model. tfmot is imported only here: importing
it switches `tf.keras` to tf_keras for the rest of the process.
"""
