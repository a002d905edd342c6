using System.Text;

namespace Convnet.Data;

/// <summary>
/// The distinct label texts of one or more CSV files, each given a provisional id in the order
/// first seen, and how they become classes once every row is read (<see cref="Resolve"/>): when
/// every text is an integer 0-255 the classes are those numbers (no names, the Kaggle digits);
/// otherwise every distinct text is a class, named by it, the names sorted ordinally.
/// </summary>
internal sealed class CsvLabels
{
    private readonly short[] _idOfNumber = new short[Dataset.MaxClasses];
    private readonly Dictionary<string, int> _idOfText = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _lookup;
    private readonly List<string> _texts = [];
    private char[] _chars = new char[64];

    public CsvLabels()
    {
        _idOfNumber.AsSpan().Fill(-1);
        _lookup = _idOfText.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    /// <summary>The distinct texts so far, by provisional id.</summary>
    public IReadOnlyList<string> Texts => _texts;

    /// <summary>
    /// The provisional id of the label in field <paramref name="index"/> of the current row, or -1
    /// when it would be one class more than <see cref="Dataset.MaxClasses"/>. An empty label or one
    /// with control characters is a <see cref="DataFormatException"/> naming the field.
    /// </summary>
    public int Add(CsvInput input, int index, string columnName)
    {
        ReadOnlySpan<byte> s = input.Field(index);
        // The usual case, a plain number: no string, no hashing.
        int number = CanonicalNumber(s);
        if (number >= 0 && _idOfNumber[number] >= 0)
        {
            return _idOfNumber[number];
        }
        if (s.IsEmpty)
        {
            throw input.FieldError(index, columnName, "empty label, expected a class (a number or a name)");
        }
        if (CsvInput.FirstNonText(s) is int bad)
        {
            throw input.FieldError(index, columnName, $"binary data (byte 0x{s[bad]:X2}) in the label");
        }
        if (_chars.Length < s.Length)
        {
            _chars = new char[Math.Max(s.Length, 2 * _chars.Length)];
        }
        int length = Encoding.UTF8.GetChars(s, _chars);
        if (_lookup.TryGetValue(_chars.AsSpan(0, length), out int id))
        {
            return id;
        }
        if (_texts.Count == Dataset.MaxClasses)
        {
            return -1;
        }
        string text = new(_chars, 0, length);
        id = _texts.Count;
        _texts.Add(text);
        _idOfText[text] = id;
        if (number >= 0)
        {
            _idOfNumber[number] = (short)id;
        }
        return id;
    }

    /// <summary>
    /// The class of each provisional id, and the class names: null when every text is an integer
    /// 0-255 (the class is the number), else the texts sorted ordinally.
    /// </summary>
    public (byte[] ClassOfId, IReadOnlyList<string>? Names) Resolve()
    {
        var classOf = new byte[_texts.Count];
        var values = new int[_texts.Count];
        bool numeric = true;
        for (int id = 0; id < _texts.Count && numeric; id++)
        {
            numeric = IsNumber(_texts[id], out values[id]);
        }
        if (numeric)
        {
            for (int id = 0; id < classOf.Length; id++)
            {
                classOf[id] = (byte)values[id];
            }
            return (classOf, null);
        }
        string[] names = [.. _texts.Order(StringComparer.Ordinal)];
        for (int id = 0; id < classOf.Length; id++)
        {
            classOf[id] = (byte)Array.BinarySearch(names, _texts[id], StringComparer.Ordinal);
        }
        return (classOf, names);
    }

    /// <summary>Rewrites provisional ids into classes, in place.</summary>
    public static void Apply(byte[] classOfId, Span<byte> labels)
    {
        for (int i = 0; i < labels.Length; i++)
        {
            labels[i] = classOfId[labels[i]];
        }
    }

    /// <summary>The value of "0".."255" written without leading zeros, else -1.</summary>
    private static int CanonicalNumber(ReadOnlySpan<byte> s)
    {
        if (s.Length is 0 or > 3 || (s[0] == '0' && s.Length > 1))
        {
            return -1;
        }
        int value = 0;
        foreach (byte b in s)
        {
            int digit = b - '0';
            if ((uint)digit > 9)
            {
                return -1;
            }
            value = value * 10 + digit;
        }
        return value < Dataset.MaxClasses ? value : -1;
    }

    /// <summary>Decimal digits only (leading zeros allowed, no sign or space) with a value 0-255.</summary>
    private static bool IsNumber(string text, out int value)
    {
        value = 0;
        if (text.Length == 0)
        {
            return false;
        }
        foreach (char c in text)
        {
            if (!char.IsAsciiDigit(c))
            {
                return false;
            }
            value = Math.Min(value * 10 + (c - '0'), 1000);
        }
        return value < Dataset.MaxClasses;
    }
}
