namespace Convnet.Layers;

/// <summary>
/// What a layer class says about itself to <see cref="LayerRegistry"/>: its type name in model
/// files, its token in the architecture spec language, and how to make one from either.
/// </summary>
public interface ILayerKind
{
    /// <summary>Keras's class name, the "type" of the model file's architecture list, e.g. "Conv2D".</summary>
    static abstract string KindName { get; }

    /// <summary>The spec token's grammar for messages and help, e.g. "conv&lt;F&gt;k&lt;K&gt;[s&lt;S&gt;][same|valid]".</summary>
    static abstract string TokenForm { get; }

    /// <summary>A fresh layer from a saved <see cref="Layer.Config"/>; throws <see cref="FormatException"/> or <see cref="ArgumentException"/>.</summary>
    static abstract Layer FromConfig(LayerConfig config);

    /// <summary>
    /// A fresh layer from one spec layer (e.g. "conv32k3"), or null when the text is not this
    /// layer's token; throws <see cref="FormatException"/> when it is but is malformed.
    /// </summary>
    static abstract Layer? ParseToken(string token);

    /// <summary>
    /// The layer an ONNX node stands for (the import's walk asks each kind in turn), or null when the
    /// node's op is not this kind's; throws <see cref="IO.ModelFormatException"/> (through
    /// <see cref="OnnxImportNode.Refuse(string)"/>) when it is but has settings this layer cannot take.
    /// </summary>
    static virtual OnnxLayer? FromOnnx(OnnxImportNode node) => null;
}
