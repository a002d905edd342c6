using System.Globalization;
using System.Text;
using Convnet.Architecture;

namespace Convnet.Tuning;

/// <summary>
/// An architecture spec with holes the search fills: <c>{16|32|64}</c> (one of the values, as text)
/// and <c>{0.2..0.5}</c> or <c>{16..64}</c> (a range: whole numbers when both ends are, else real
/// numbers with <see cref="ValueRange.SignificantDigits"/> digits), e.g.
/// <c>conv{16|32|64}k3-relu,maxpool2,flatten,dense{32..128}-relu,drop{0.2..0.5}</c>. Hole k (from 1)
/// is the search parameter <c>arch{k}</c>.
/// </summary>
public sealed class ArchTemplate
{
    private readonly string[] _literals;

    private ArchTemplate(string text, string[] literals, IReadOnlyList<(Domain Domain, int Column, string Text)> holes)
    {
        Text = text;
        _literals = literals;
        Holes = holes;
    }

    /// <summary>The template as written.</summary>
    public string Text { get; }

    /// <summary>Each hole's values, 0-based column of its '{' in <see cref="Text"/>, and its text with the braces.</summary>
    public IReadOnlyList<(Domain Domain, int Column, string Text)> Holes { get; }

    /// <summary>The search parameter's name of hole <paramref name="index"/> (0-based): <c>arch{1}</c>, <c>arch{2}</c>, ...</summary>
    public static string HoleName(int index) => string.Create(CultureInfo.InvariantCulture, $"arch{{{index + 1}}}");

    /// <summary>Whether <paramref name="arch"/> has holes (a '{' or '}').</summary>
    public static bool IsTemplate(string arch) => arch.Contains('{') || arch.Contains('}');

    /// <summary>Reads a template; a malformed hole is a <see cref="SearchSpaceException"/> at its column in <paramref name="text"/>.</summary>
    public static ArchTemplate Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var literals = new List<string>();
        var holes = new List<(Domain, int, string)>();
        var literal = new StringBuilder();
        int i = 0;
        while (i < text.Length)
        {
            char c = text[i];
            if (c == '}')
            {
                throw new SearchSpaceException($"'}}' at column {i + 1} closes no '{{'", "arch", i);
            }
            if (c != '{')
            {
                literal.Append(c);
                i++;
                continue;
            }
            int close = text.IndexOf('}', i + 1);
            int nested = text.IndexOf('{', i + 1);
            if (close < 0)
            {
                throw new SearchSpaceException($"'{{' at column {i + 1} is not closed by '}}'", "arch", i);
            }
            if (nested >= 0 && nested < close)
            {
                throw new SearchSpaceException($"'{{' at column {nested + 1} inside the hole opened at column {i + 1}", "arch", nested);
            }
            string hole = text[i..(close + 1)];
            holes.Add((Hole(hole, i), i, hole));
            literals.Add(literal.ToString());
            literal.Clear();
            i = close + 1;
        }
        literals.Add(literal.ToString());
        var template = new ArchTemplate(text, [.. literals], holes);
        template.Check();
        return template;
    }

    private static Domain Hole(string hole, int column)
    {
        string inner = hole[1..^1];
        if (inner.Length == 0)
        {
            throw new SearchSpaceException($"{hole} at column {column + 1} is empty (write {{a|b}} or {{min..max}})", "arch", column);
        }
        int dots = inner.IndexOf("..", StringComparison.Ordinal);
        if (dots >= 0)
        {
            string low = inner[..dots], high = inner[(dots + 2)..];
            bool integer = int.TryParse(low, NumberStyles.None, CultureInfo.InvariantCulture, out int a) & int.TryParse(high, NumberStyles.None, CultureInfo.InvariantCulture, out int b);
            if (integer)
            {
                return a <= b ? new ValueRange(a, b, log: false, integer: true)
                    : throw new SearchSpaceException($"{hole} at column {column + 1}: min {a} is above max {b}", "arch", column);
            }
            if (!double.TryParse(low, NumberStyles.Float, CultureInfo.InvariantCulture, out double x) || !double.TryParse(high, NumberStyles.Float, CultureInfo.InvariantCulture, out double y)
                || !double.IsFinite(x) || !double.IsFinite(y) || x < 0 || y < 0)
            {
                throw new SearchSpaceException($"{hole} at column {column + 1}: a range needs two non-negative numbers, min..max", "arch", column);
            }
            return x <= y ? new ValueRange(x, y, log: false, integer: false)
                : throw new SearchSpaceException($"{hole} at column {column + 1}: min {low} is above max {high}", "arch", column);
        }
        string[] values = inner.Split('|');
        if (values.Any(v => v.Length == 0))
        {
            throw new SearchSpaceException($"{hole} at column {column + 1} has an empty value", "arch", column);
        }
        if (values.Distinct(StringComparer.Ordinal).Count() != values.Length)
        {
            throw new SearchSpaceException($"{hole} at column {column + 1} lists a value twice", "arch", column);
        }
        return new ValueList(values, numeric: values.All(v => double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out _)));
    }

    /// <summary>The spec with hole k replaced by <paramref name="values"/>[k].</summary>
    public string Fill(IReadOnlyList<string> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (values.Count != Holes.Count)
        {
            throw new ArgumentException($"{values.Count} values for {Holes.Count} holes.", nameof(values));
        }
        var spec = new StringBuilder(_literals[0]);
        for (int k = 0; k < values.Count; k++)
        {
            spec.Append(values[k]).Append(_literals[k + 1]);
        }
        return spec.ToString();
    }

    /// <summary>Every hole's extreme values (each list value, each range's ends), the other holes at their first, make a spec that parses.</summary>
    private void Check()
    {
        var first = Holes.Select(h => Ends(h.Domain)[0]).ToArray();
        for (int k = 0; k < Holes.Count; k++)
        {
            foreach (string value in Ends(Holes[k].Domain))
            {
                var values = (string[])first.Clone();
                values[k] = value;
                string spec = Fill(values);
                try
                {
                    Architectures.Describe(spec);
                }
                catch (ArchitectureSpecException e)
                {
                    throw new SearchSpaceException($"{Holes[k].Text} at column {Holes[k].Column + 1} with {value} gives '{spec}': {e.Message}", "arch", Holes[k].Column);
                }
            }
        }
        if (Holes.Count == 0)
        {
            throw new SearchSpaceException("a template needs a hole such as {16|32} or {0.2..0.5}", "arch", 0);
        }
    }

    private static string[] Ends(Domain domain) => domain switch
    {
        ValueRange r => [ValueRange.Format(r.Min), ValueRange.Format(r.Max)],
        _ => [.. domain.Values!],
    };
}
