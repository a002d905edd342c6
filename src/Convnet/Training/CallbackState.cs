using System.Globalization;

namespace Convnet.Training;

/// <summary>
/// The saved state of one <see cref="IStatefulCallback"/>: numbers kept as round-trip strings (so
/// every bit comes back, infinities and NaN included) and float arrays, each under a key.
/// </summary>
public sealed class CallbackState
{
    private readonly Dictionary<string, string> _values = new(StringComparer.Ordinal);
    private readonly Dictionary<string, float[]> _arrays = new(StringComparer.Ordinal);

    /// <summary>The scalar values by key, as round-trip invariant-culture strings.</summary>
    public IReadOnlyDictionary<string, string> Values => _values;
    /// <summary>The arrays by key (not copies).</summary>
    public IReadOnlyDictionary<string, float[]> Arrays => _arrays;

    /// <summary>Keeps <paramref name="value"/> under <paramref name="key"/>, every bit (NaN and infinities included).</summary>
    /// <param name="key">ASCII letters, digits and '_' only.</param>
    /// <param name="value">The value.</param>
    /// <exception cref="ArgumentException"><paramref name="key"/> is empty or holds another character.</exception>
    public void Set(string key, double value) => _values[CheckKey(key)] = value.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>Keeps <paramref name="value"/> under <paramref name="key"/>.</summary>
    /// <param name="key">ASCII letters, digits and '_' only.</param>
    /// <param name="value">The value.</param>
    /// <exception cref="ArgumentException"><paramref name="key"/> is empty or holds another character.</exception>
    public void Set(string key, long value) => _values[CheckKey(key)] = value.ToString(CultureInfo.InvariantCulture);

    /// <summary>Keeps <paramref name="value"/> under <paramref name="key"/>.</summary>
    /// <param name="key">ASCII letters, digits and '_' only.</param>
    /// <param name="value">The value; not null.</param>
    /// <exception cref="ArgumentException"><paramref name="key"/> is empty or holds another character, or <paramref name="value"/> is null.</exception>
    public void Set(string key, string value) => _values[CheckKey(key)] = value ?? throw new ArgumentNullException(nameof(value));

    /// <summary>Keeps <paramref name="values"/> (not a copy) under <paramref name="key"/>; null stores nothing, as <see cref="GetArray"/> then returns null.</summary>
    public void SetArray(string key, float[]? values)
    {
        CheckKey(key);
        if (values is null)
        {
            _arrays.Remove(key);
        }
        else
        {
            _arrays[key] = values;
        }
    }

    /// <summary>The number under <paramref name="key"/>.</summary>
    /// <exception cref="FormatException">The key is missing or its value is not a number.</exception>
    public double GetDouble(string key) => double.TryParse(GetString(key), NumberStyles.Float, CultureInfo.InvariantCulture, out double value)
        ? value
        : throw new FormatException($"callback value '{key}' is '{_values[key]}', not a number");

    /// <summary>The integer under <paramref name="key"/>.</summary>
    /// <exception cref="FormatException">The key is missing or its value is not an integer of that size.</exception>
    public long GetInt64(string key) => long.TryParse(GetString(key), NumberStyles.Integer, CultureInfo.InvariantCulture, out long value)
        ? value
        : throw new FormatException($"callback value '{key}' is '{_values[key]}', not an integer");

    /// <summary>The integer under <paramref name="key"/>.</summary>
    /// <exception cref="FormatException">The key is missing or its value is not an integer of that size.</exception>
    public int GetInt32(string key) => int.TryParse(GetString(key), NumberStyles.Integer, CultureInfo.InvariantCulture, out int value)
        ? value
        : throw new FormatException($"callback value '{key}' is '{_values[key]}', not an integer");

    /// <summary>The value under <paramref name="key"/>, as stored.</summary>
    /// <exception cref="FormatException">The key is missing.</exception>
    public string GetString(string key) => _values.TryGetValue(key, out string? value)
        ? value
        : throw new FormatException($"callback value '{key}' is missing");

    /// <summary>The array under <paramref name="key"/>, or null when none was stored; throws when its length is not <paramref name="length"/>.</summary>
    public float[]? GetArray(string key, int length)
    {
        if (!_arrays.TryGetValue(key, out float[]? values))
        {
            return null;
        }
        return values.Length == length
            ? values
            : throw new FormatException($"callback array '{key}' has {values.Length} values, not {length}");
    }

    // Keys become parts of tensor and metadata names: keep them to letters, digits and '_'.
    private static string CheckKey(string key)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        if (!key.All(c => char.IsAsciiLetterOrDigit(c) || c == '_'))
        {
            throw new ArgumentException($"Callback state key '{key}' may hold only ASCII letters, digits and '_'.", nameof(key));
        }
        return key;
    }
}
