namespace Convnet.Layers;

/// <summary>One registered layer class: its type name, spec grammar and factories (see <see cref="ILayerKind"/>).</summary>
public sealed record LayerKind(string TypeName, string TokenForm, Func<LayerConfig, Layer> FromConfig, Func<string, Layer?> ParseToken, Func<OnnxImportNode, OnnxLayer?> FromOnnx)
{
    /// <summary>The kind of layer class <typeparamref name="T"/>, from its <see cref="ILayerKind"/> members.</summary>
    public static LayerKind Of<T>() where T : Layer, ILayerKind => new(T.KindName, T.TokenForm, T.FromConfig, T.ParseToken, T.FromOnnx);
}

/// <summary>
/// Every layer the model files and the spec language know: type name ↔ spec token ↔ factory, one
/// line per layer (in the order the spec grammar lists them).
/// </summary>
public static class LayerRegistry
{
    /// <summary>Every known layer class, in the order the spec grammar lists them.</summary>
    public static IReadOnlyList<LayerKind> Kinds { get; } =
    [
        LayerKind.Of<Conv2D>(),
        LayerKind.Of<MaxPooling2D>(),
        LayerKind.Of<AveragePooling2D>(),
        LayerKind.Of<GlobalAveragePooling2D>(),
        LayerKind.Of<BatchNormalization>(),
        LayerKind.Of<ReLU>(),
        LayerKind.Of<LeakyReLU>(),
        LayerKind.Of<Dropout>(),
        LayerKind.Of<Flatten>(),
        LayerKind.Of<Dense>(),
        LayerKind.Of<Softmax>(),
    ];

    /// <summary>Recreates a layer from its <see cref="Layer.TypeName"/> and <see cref="Layer.Config"/>.</summary>
    /// <exception cref="FormatException">Unknown type, or a missing or malformed setting.</exception>
    public static Layer Create(string typeName, IReadOnlyDictionary<string, string> config)
    {
        var kind = Kinds.FirstOrDefault(k => k.TypeName == typeName) ?? throw new FormatException($"unknown layer type '{typeName}'");
        return kind.FromConfig(new LayerConfig(config));
    }

    /// <summary>What the first kind that takes <paramref name="node"/>'s op makes of it (<see cref="ILayerKind.FromOnnx"/>), or null when none does.</summary>
    /// <exception cref="IO.ModelFormatException">A kind takes the op but not the node's settings.</exception>
    public static OnnxLayer? FromOnnx(OnnxImportNode node)
    {
        ArgumentNullException.ThrowIfNull(node);
        foreach (var kind in Kinds)
        {
            if (kind.FromOnnx(node) is { } layer)
            {
                return layer;
            }
        }
        return null;
    }

    /// <summary>The layer one spec layer (e.g. "conv32k3") names.</summary>
    /// <exception cref="FormatException">No layer takes the token, or its layer finds it malformed.</exception>
    public static Layer Parse(string token)
    {
        foreach (var kind in Kinds)
        {
            if (kind.ParseToken(token) is { } layer)
            {
                return layer;
            }
        }
        throw new FormatException($"unknown layer '{token}' (known: {string.Join(", ", Kinds.Select(k => k.TokenForm))})");
    }
}
