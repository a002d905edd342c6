namespace Convnet.Layers;

/// <summary>One registered layer class: its type name, spec grammar and factories (see <see cref="ILayerKind"/>).</summary>
public sealed record LayerKind(string TypeName, string TokenForm, Func<LayerConfig, Layer> FromConfig, Func<string, Layer?> ParseToken)
{
    /// <summary>The kind of layer class <typeparamref name="T"/>, from its <see cref="ILayerKind"/> members.</summary>
    public static LayerKind Of<T>() where T : Layer, ILayerKind => new(T.KindName, T.TokenForm, T.FromConfig, T.ParseToken);
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
