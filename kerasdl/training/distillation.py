"""Knowledge distillation (Hinton et al. 2015): a small student learns from a trained
teacher's softened probabilities as well as from the labels.

With temperature T, both models' probabilities are softened, p^T = softmax(z / T); the
student minimizes

    (1 - w) * CE(y, p_student) + w * T² * KL(p^T_teacher || p^T_student)

The soft targets carry the teacher's "dark knowledge" (a shirt looks more like a
T-shirt than like a boot); T² keeps their gradient's scale as T grows. The student's
logits are recovered as log p (the softmax is shift-invariant), so kerasdl's models,
which end in a softmax, need no change. The teacher runs on the same (augmented)
batch at every step and is never trained; validation reports the plain loss.

Example:
>>> import numpy as np
>>> from kerasdl.training.distillation import soft_target_loss
>>> p = np.array([[0.7, 0.2, 0.1]], "float32")
>>> round(float(soft_target_loss(p, p, temperature=4.0)), 6)  # the same distribution: nothing to learn
0.0
"""

from __future__ import annotations

import logging
import types
from typing import Any

from kerasdl.errors import ConfigError

logger = logging.getLogger(__name__)


def soft_target_loss(teacher_probabilities: Any, student_probabilities: Any, *, temperature: float) -> Any:
    """T² · KL(softmax(log p_t / T) || softmax(log p_s / T)), averaged over the batch."""
    import tensorflow as tf

    eps = 1e-7
    t_logits = tf.math.log(tf.clip_by_value(tf.cast(teacher_probabilities, tf.float32), eps, 1.0)) / temperature
    s_logits = tf.math.log(tf.clip_by_value(tf.cast(student_probabilities, tf.float32), eps, 1.0)) / temperature
    soft_teacher = tf.nn.softmax(t_logits)
    kl = tf.reduce_sum(soft_teacher * (tf.nn.log_softmax(t_logits) - tf.nn.log_softmax(s_logits)), axis=-1)
    return temperature ** 2 * tf.reduce_mean(kl)


def attach_teacher(student: Any, teacher: Any, *, temperature: float, weight: float) -> None:
    """Makes `student`'s training loss the distillation loss with `teacher` (frozen).
    The student's saved model is unchanged: the teacher is not one of its layers."""
    if tuple(teacher.inputs[0].shape[1:]) != tuple(student.inputs[0].shape[1:]):
        raise ConfigError(f"The teacher takes inputs {tuple(teacher.inputs[0].shape[1:])}, the student "
                          f"{tuple(student.inputs[0].shape[1:])}: distil between runs of the same input.")
    if teacher.outputs[0].shape[-1] != student.outputs[0].shape[-1]:
        raise ConfigError("The teacher and the student predict different numbers of classes.")
    teacher.trainable = False
    hard_loss = student.compute_loss

    def compute_loss(self: Any, x: Any = None, y: Any = None, y_pred: Any = None, sample_weight: Any = None,
                     training: bool = True) -> Any:
        hard = hard_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=training)
        if not training:
            return hard
        soft = soft_target_loss(teacher(x, training=False), y_pred, temperature=temperature)
        return (1.0 - weight) * hard + weight * soft

    student.compute_loss = types.MethodType(compute_loss, student)
    student._kerasdl_teacher = teacher  # kept alive with the student while it trains
