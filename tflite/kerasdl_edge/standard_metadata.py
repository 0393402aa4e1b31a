"""The standard TFLite Model Metadata: what MediaPipe Tasks and Android Studio read.

Besides kerasdl's own JSON entry (`kerasdl_edge.metadata`), every kerasdl export carries
the metadata of TFLite's `metadata_schema.fbs`: a FlatBuffer in the model's metadata
list under the name `TFLITE_METADATA`, describing the model (name, description, version,
author, licence) and each input and output tensor (an image's colour space and
normalization, audio's sample rate, a text input's regex or BERT tokenizer, a classifier's
labels). Files the metadata names (labels, a vocabulary) are appended to the model as a
zip archive, so the .tflite file stays one file: the interpreter reads the FlatBuffer
at the start and ignores the archive after it; zip readers find the archive from its end.

This module writes and reads that metadata with the schema's generated object API
(`metadata_schema_py_generated`) and `flatbuffers`, with no TensorFlow and no MediaPipe.

Example:
>>> from kerasdl_edge.standard_metadata import read_standard_metadata
>>> meta = read_standard_metadata(open("vision.tflite", "rb").read())  # doctest: +SKIP
>>> meta.outputs[0].labels[:2]  # doctest: +SKIP
['t-shirt', 'trouser']
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kerasdl_edge.metadata import associated_files

STANDARD_METADATA_NAME = "TFLITE_METADATA"
METADATA_IDENTIFIER = b"M001"
LABELS_FILE = "labels.txt"
VOCABULARY_FILE = "vocab.txt"
# The special tokens MediaPipe's regex tokenizer looks up in the vocabulary file.
PAD_TOKEN, UNKNOWN_TOKEN, START_TOKEN = "<PAD>", "<UNKNOWN>", "<START>"


@dataclass(frozen=True)
class ImageInput:
    """An image tensor [1, height, width, channels]: its colour space and how pixel
    values are normalized, `(value - mean) / std` per channel (mean 0 and std 1 for a
    model that takes raw 0-255 pixels and scales them itself)."""

    color_space: str = "RGB"  # RGB or GRAYSCALE
    mean: tuple[float, ...] = (0.0,)
    std: tuple[float, ...] = (1.0,)


@dataclass(frozen=True)
class AudioInput:
    """A waveform tensor [1, samples] of float32 in [-1, 1]."""

    sample_rate: int
    channels: int = 1


@dataclass(frozen=True)
class RegexTokenizerInput:
    """int32 token ids [1, length] from MediaPipe's regex tokenizer: the text is cut at
    every match of `delimiter` (an RE2 pattern), empty pieces dropped, each piece looked
    up in `vocabulary` ({token: id}; unknown pieces get the `<UNKNOWN>` id), padded
    with the `<PAD>` id. Nothing is lower-cased."""

    delimiter: str
    vocabulary: dict[str, int]


@dataclass(frozen=True)
class BertTokenizerInput:
    """A BERT model's tokenizer (the subgraph's input process unit): WordPiece over
    `vocabulary` (one token per line, its id its line number), as MediaPipe's
    TextClassifier runs Model Maker's BERT classifiers: ASCII lower-casing, a split at
    whitespace, punctuation and CJK characters, `[CLS]` ... `[SEP]`, padding with id 0,
    into the inputs named ids, mask and segment_ids."""

    vocabulary: tuple[str, ...]


@dataclass(frozen=True)
class TensorInfo:
    """One input or output tensor as the standard metadata describes it."""

    name: str
    description: str = ""
    image: ImageInput | None = None
    audio: AudioInput | None = None
    tokenizer: RegexTokenizerInput | None = None
    # A classifier's output: one label per class (TENSOR_AXIS_LABELS).
    labels: tuple[str, ...] | None = None
    value_range: tuple[float, float] | None = None


@dataclass(frozen=True)
class StandardMetadata:
    """The model-level fields and one `TensorInfo` per input and output tensor."""

    name: str
    description: str
    version: str
    author: str
    license: str
    inputs: tuple[TensorInfo, ...] = field(default_factory=tuple)
    outputs: tuple[TensorInfo, ...] = field(default_factory=tuple)
    # The tokenizer of a model whose inputs are a BERT model's (ids, mask, segment_ids).
    input_tokenizer: BertTokenizerInput | None = None


def _schema() -> Any:
    from kerasdl_edge import metadata_schema_py_generated as schema

    return schema


def min_parser_version(metadata: StandardMetadata) -> str:
    """The oldest metadata parser that reads every field used, as MediaPipe's own
    writer records it: its `GetMinimumMetadataParserVersion` (metadata_version.cc) gives
    1.0.0 plus each later field's version, of which kerasdl uses the regex tokenizer
    (1.2.1; its vocabulary file type is 1.0.1) and AudioProperties (1.3.0)."""
    tensors = metadata.inputs + metadata.outputs
    if any(t.audio for t in tensors):
        return "1.3.0"  # AudioProperties
    if any(t.tokenizer for t in tensors):
        return "1.2.1"  # RegexTokenizerOptions in a tensor's process units
    if metadata.input_tokenizer is not None:
        return "1.1.0"  # a subgraph's input process units (BertTokenizerOptions)
    return "1.0.0"


def _tensor_metadata(info: TensorInfo) -> Any:
    schema = _schema()
    tensor = schema.TensorMetadataT()
    tensor.name = info.name
    tensor.description = info.description
    content = schema.ContentT()
    if info.image is not None:
        properties = schema.ImagePropertiesT()
        properties.colorSpace = (schema.ColorSpaceType.GRAYSCALE if info.image.color_space == "GRAYSCALE"
                                 else schema.ColorSpaceType.RGB)
        content.contentPropertiesType = schema.ContentProperties.ImageProperties
        content.contentProperties = properties
        normalization = schema.NormalizationOptionsT()
        normalization.mean = list(info.image.mean)
        normalization.std = list(info.image.std)
        unit = schema.ProcessUnitT()
        unit.optionsType = schema.ProcessUnitOptions.NormalizationOptions
        unit.options = normalization
        tensor.processUnits = [unit]
    elif info.audio is not None:
        properties = schema.AudioPropertiesT()
        properties.sampleRate = int(info.audio.sample_rate)
        properties.channels = int(info.audio.channels)
        content.contentPropertiesType = schema.ContentProperties.AudioProperties
        content.contentProperties = properties
    else:
        content.contentPropertiesType = schema.ContentProperties.FeatureProperties
        content.contentProperties = schema.FeaturePropertiesT()
    tensor.content = content
    if info.value_range is not None:
        stats = schema.StatsT()
        stats.min, stats.max = [float(info.value_range[0])], [float(info.value_range[1])]
        tensor.stats = stats
    if info.labels is not None:
        labels = schema.AssociatedFileT()
        labels.name = LABELS_FILE
        labels.description = "The class labels, one per line, in the output's order."
        labels.type = schema.AssociatedFileType.TENSOR_AXIS_LABELS
        tensor.associatedFiles = [labels]
    return tensor


def _vocabulary_unit(options: Any, options_type: int, description: str) -> Any:
    """A tokenizer's process unit: `options` naming the vocabulary file."""
    schema = _schema()
    vocabulary = schema.AssociatedFileT()
    vocabulary.name = VOCABULARY_FILE
    vocabulary.description = description
    vocabulary.type = schema.AssociatedFileType.VOCABULARY
    options.vocabFile = [vocabulary]
    unit = schema.ProcessUnitT()
    unit.optionsType = options_type
    unit.options = options
    return unit


def _tokenizer_unit(tokenizer: RegexTokenizerInput) -> Any:
    schema = _schema()
    options = schema.RegexTokenizerOptionsT()
    options.delimRegexPattern = tokenizer.delimiter
    return _vocabulary_unit(options, schema.ProcessUnitOptions.RegexTokenizerOptions,
                            "Tokens and their ids, one 'token id' pair per line.")


def _bert_tokenizer_unit(tokenizer: BertTokenizerInput) -> Any:
    schema = _schema()
    return _vocabulary_unit(schema.BertTokenizerOptionsT(), schema.ProcessUnitOptions.BertTokenizerOptions,
                            "WordPiece tokens, one per line; a token's id is its line number (from 0).")


def _associated_files(metadata: StandardMetadata) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    if metadata.input_tokenizer is not None:
        for token in metadata.input_tokenizer.vocabulary:
            if not token or "\n" in token or "\r" in token:
                raise ValueError(f"vocabulary token {token!r} is empty or holds a line break, which the "
                                 "one-token-per-line vocabulary file cannot hold")
        files[VOCABULARY_FILE] = "".join(f"{token}\n" for token in metadata.input_tokenizer.vocabulary
                                         ).encode("utf-8")
    for info in metadata.inputs + metadata.outputs:
        if info.labels is not None:
            files[LABELS_FILE] = "".join(f"{label}\n" for label in info.labels).encode("utf-8")
        if info.tokenizer is not None:
            for token in info.tokenizer.vocabulary:
                # The reader splits lines at "\n" and a line at " ": nothing else is special.
                if not token or " " in token or "\n" in token:
                    raise ValueError(f"vocabulary token {token!r} is empty or holds a space or a line "
                                     "break, which the 'token id' vocabulary file cannot hold")
            files[VOCABULARY_FILE] = "".join(
                f"{token} {i}\n" for token, i in info.tokenizer.vocabulary.items()).encode("utf-8")
    return files


def metadata_buffer(metadata: StandardMetadata) -> bytes:
    """The `ModelMetadata` FlatBuffer (identifier M001) for `metadata`."""
    import flatbuffers

    schema = _schema()
    subgraph = schema.SubGraphMetadataT()
    subgraph.inputTensorMetadata = [_tensor_metadata(t) for t in metadata.inputs]
    subgraph.outputTensorMetadata = [_tensor_metadata(t) for t in metadata.outputs]
    for tensor, info in zip(subgraph.inputTensorMetadata, metadata.inputs):
        if info.tokenizer is not None:
            tensor.processUnits = [_tokenizer_unit(info.tokenizer)]
    if metadata.input_tokenizer is not None:
        subgraph.inputProcessUnits = [_bert_tokenizer_unit(metadata.input_tokenizer)]
    model = schema.ModelMetadataT()
    model.name = metadata.name
    model.description = metadata.description
    model.version = metadata.version
    model.author = metadata.author
    model.license = metadata.license
    model.subgraphMetadata = [subgraph]
    model.minParserVersion = min_parser_version(metadata)
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), METADATA_IDENTIFIER)
    return bytes(builder.Output())


def write_standard_metadata(model_bytes: bytes, metadata: StandardMetadata) -> bytes:
    """The .tflite bytes with `metadata` stored (replacing older standard metadata) and
    its files (labels, vocabulary) in the archive after the model.

    Raises:
        ValueError: when the tensors described do not match the model's inputs and
            outputs in number.
    """
    from kerasdl_edge.metadata import model_inputs_outputs, set_metadata_buffer

    inputs, outputs = model_inputs_outputs(model_bytes)
    if (len(metadata.inputs), len(metadata.outputs)) != (inputs, outputs):
        raise ValueError(f"the metadata describes {len(metadata.inputs)} input(s) and "
                         f"{len(metadata.outputs)} output(s); the model has {inputs} and {outputs}")
    files = _associated_files(metadata)
    return set_metadata_buffer(model_bytes, STANDARD_METADATA_NAME, metadata_buffer(metadata), files=files)


def read_standard_metadata(model_bytes: bytes) -> StandardMetadata | None:
    """The standard metadata of a .tflite file (None if it has none), with its labels
    and vocabulary read from the files after the model.

    Raises:
        ValueError: when the metadata or its files are damaged.
    """
    from kerasdl_edge.metadata import metadata_buffer_named

    buffer = metadata_buffer_named(model_bytes, STANDARD_METADATA_NAME)
    if buffer is None:
        return None
    schema = _schema()
    try:
        if not schema.ModelMetadata.ModelMetadataBufferHasIdentifier(buffer, 0):
            raise ValueError("no M001 identifier")
        model = schema.ModelMetadataT.InitFromObj(schema.ModelMetadata.GetRootAs(buffer, 0))
        files = associated_files(model_bytes)
        subgraph = (model.subgraphMetadata or [schema.SubGraphMetadataT()])[0]
        return StandardMetadata(
            name=_text(model.name), description=_text(model.description), version=_text(model.version),
            author=_text(model.author), license=_text(model.license),
            inputs=tuple(_tensor_info(t, files) for t in subgraph.inputTensorMetadata or []),
            outputs=tuple(_tensor_info(t, files) for t in subgraph.outputTensorMetadata or []),
            input_tokenizer=_input_tokenizer(subgraph, files),
        )
    except (ValueError, TypeError, AttributeError, IndexError, UnicodeDecodeError, KeyError) as e:
        raise ValueError(f"its standard metadata is damaged ({type(e).__name__}: {e})") from None


def _input_tokenizer(subgraph: Any, files: dict[str, bytes]) -> BertTokenizerInput | None:
    schema = _schema()
    for unit in subgraph.inputProcessUnits or []:
        if unit.optionsType == schema.ProcessUnitOptions.BertTokenizerOptions:
            # Every line counts, empty or not: a token's id is its line number.
            data = files[_text(unit.options.vocabFile[0].name)].decode("utf-8").split("\n")
            return BertTokenizerInput(tuple(data[:-1] if data and data[-1] == "" else data))
    return None


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _lines(data: bytes) -> list[str]:
    """The non-empty lines of a metadata file as MediaPipe reads them: split at "\n"
    only (str.splitlines would also split at characters such as U+0085 that tokens may
    hold), a final "\r" dropped."""
    lines = [line.removesuffix("\r") for line in data.decode("utf-8").split("\n")]
    return [line for line in lines if line]


def _floats(values: Any, default: float) -> tuple[float, ...]:
    """A float vector of the object API (a list or a numpy array; None when absent)."""
    if values is None or len(values) == 0:
        return (default,)
    return tuple(float(v) for v in values)


def _tensor_info(tensor: Any, files: dict[str, bytes]) -> TensorInfo:
    schema = _schema()
    image = audio = tokenizer = None
    labels = None
    content = tensor.content
    kind = content.contentPropertiesType if content is not None else None
    units = tensor.processUnits or []
    if kind == schema.ContentProperties.ImageProperties:
        normalization = next((u.options for u in units
                              if u.optionsType == schema.ProcessUnitOptions.NormalizationOptions), None)
        space = ("GRAYSCALE" if content.contentProperties.colorSpace == schema.ColorSpaceType.GRAYSCALE
                 else "RGB")
        image = ImageInput(space, _floats(getattr(normalization, "mean", None), 0.0),
                           _floats(getattr(normalization, "std", None), 1.0))
    elif kind == schema.ContentProperties.AudioProperties:
        audio = AudioInput(int(content.contentProperties.sampleRate), int(content.contentProperties.channels))
    for unit in units:
        if unit.optionsType == schema.ProcessUnitOptions.RegexTokenizerOptions:
            vocabulary_name = _text(unit.options.vocabFile[0].name)
            vocabulary = {}
            for line in _lines(files[vocabulary_name]):
                token, _, index = line.rpartition(" ")
                vocabulary[token] = int(index)
            tokenizer = RegexTokenizerInput(_text(unit.options.delimRegexPattern), vocabulary)
    for associated in tensor.associatedFiles or []:
        if associated.type == schema.AssociatedFileType.TENSOR_AXIS_LABELS:
            labels = tuple(_lines(files[_text(associated.name)]))
    value_range = None
    if tensor.stats is not None and tensor.stats.min is not None and tensor.stats.max is not None \
            and len(tensor.stats.min) and len(tensor.stats.max):
        value_range = (float(tensor.stats.min[0]), float(tensor.stats.max[0]))
    return TensorInfo(_text(tensor.name), _text(tensor.description), image=image, audio=audio,
                      tokenizer=tokenizer, labels=labels, value_range=value_range)
