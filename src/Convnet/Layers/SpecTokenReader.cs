using System.Globalization;

namespace Convnet.Layers;

/// <summary>
/// Reads one layer of an architecture spec (e.g. "conv32k5s2same") left to right, for a layer's
/// <c>ParseToken</c>; problems are <see cref="FormatException"/>s worded for the spec's user.
/// </summary>
public sealed class SpecTokenReader(string text)
{
    private int _at;

    /// <summary>True when the whole token has been read.</summary>
    public bool AtEnd => _at == text.Length;

    /// <summary>What is left to read.</summary>
    public string Rest => text[_at..];

    /// <summary>Consumes <paramref name="literal"/> when the rest starts with it.</summary>
    public bool Take(string literal)
    {
        if (_at + literal.Length <= text.Length && string.CompareOrdinal(text, _at, literal, 0, literal.Length) == 0)
        {
            _at += literal.Length;
            return true;
        }
        return false;
    }

    /// <summary>A non-negative decimal integer; <paramref name="what"/> names it in the error.</summary>
    public int Int(string what)
    {
        int start = _at;
        while (_at < text.Length && char.IsAsciiDigit(text[_at]))
        {
            _at++;
        }
        if (_at == start)
        {
            throw new FormatException(AtEnd ? $"missing {what}" : $"expected {what}, found '{Rest}'");
        }
        return int.TryParse(text.AsSpan(start, _at - start), NumberStyles.None, CultureInfo.InvariantCulture, out int value)
            ? value
            : throw new FormatException($"{text[start.._at]} is too large");
    }

    /// <summary>Throws unless everything was read; <paramref name="form"/> is the token's grammar.</summary>
    public void End(string form)
    {
        if (!AtEnd)
        {
            throw new FormatException($"unexpected '{Rest}' (the form is {form})");
        }
    }
}
