using System.Globalization;

namespace Convnet.Layers;

/// <summary>Recreates a layer from its <see cref="Layer.TypeName"/> and <see cref="Layer.Config"/>.</summary>
public static class LayerFactory
{
    public static Layer Create(string typeName, IReadOnlyDictionary<string, string> config) => typeName switch
    {
        "Conv2D" => new Conv2D(
            Int(config, "filters"),
            Int(config, "kernel_size"),
            Int(config, "stride"),
            Text(config, "padding") switch
            {
                "same" => Padding.Same,
                "valid" => Padding.Valid,
                var other => throw new FormatException($"unknown padding '{other}'"),
            }),
        "Dense" => new Dense(Int(config, "units")),
        "MaxPooling2D" => new MaxPooling2D(Int(config, "pool_size"), Int(config, "stride")),
        "ReLU" => new ReLU(),
        "Flatten" => new Flatten(),
        "Softmax" => new Softmax(),
        "AveragePooling2D" => new AveragePooling2D(Int(config, "pool_size"), Int(config, "stride")),
        "GlobalAveragePooling2D" => new GlobalAveragePooling2D(),
        "Dropout" => new Dropout(Float(config, "rate")),
        "BatchNormalization" => new BatchNormalization(Float(config, "momentum"), Float(config, "epsilon")),
        _ => throw new FormatException($"unknown layer type '{typeName}'"),
    };

    private static string Text(IReadOnlyDictionary<string, string> config, string key)
        => config.TryGetValue(key, out var value) ? value : throw new FormatException($"missing '{key}'");

    private static float Float(IReadOnlyDictionary<string, string> config, string key)
        => float.TryParse(Text(config, key), NumberStyles.Float, CultureInfo.InvariantCulture, out float value)
            ? value
            : throw new FormatException($"'{key}' is not a number");

    private static int Int(IReadOnlyDictionary<string, string> config, string key)
        => int.TryParse(Text(config, key), NumberStyles.None, CultureInfo.InvariantCulture, out int value)
            ? value
            : throw new FormatException($"'{key}' is not a non-negative integer");
}
