using System.Globalization;

namespace Convnet.Layers;

/// <summary>
/// A layer's hyperparameters as the model file keeps them (strings, e.g. "filters" = "32"), read
/// back by the layer's <c>FromConfig</c>; a missing or malformed value is a <see cref="FormatException"/>.
/// </summary>
public sealed class LayerConfig(IReadOnlyDictionary<string, string> values)
{
    /// <summary>The settings as saved, key → invariant text.</summary>
    public IReadOnlyDictionary<string, string> Values { get; } = values;

    /// <summary>The text of <paramref name="key"/>.</summary>
    /// <exception cref="FormatException">The key is missing.</exception>
    public string Text(string key)
        => Values.TryGetValue(key, out var value) ? value : throw new FormatException($"missing '{key}'");

    /// <summary>The value of <paramref name="key"/> as an invariant-culture float.</summary>
    /// <exception cref="FormatException">The key is missing or its text is not a number.</exception>
    public float Float(string key)
        => float.TryParse(Text(key), NumberStyles.Float, CultureInfo.InvariantCulture, out float value)
            ? value
            : throw new FormatException($"'{key}' is not a number");

    /// <summary>The value of <paramref name="key"/> as a non-negative decimal integer (digits only, no sign).</summary>
    /// <exception cref="FormatException">The key is missing or its text is not a non-negative integer.</exception>
    public int Int(string key)
        => int.TryParse(Text(key), NumberStyles.None, CultureInfo.InvariantCulture, out int value)
            ? value
            : throw new FormatException($"'{key}' is not a non-negative integer");

    /// <summary>The invariant text of an int, as configs store it.</summary>
    public static string Of(int value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>The round-trip invariant text of a float, as configs store it.</summary>
    public static string Of(float value) => value.ToString("R", CultureInfo.InvariantCulture);
}
