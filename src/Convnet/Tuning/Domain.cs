using System.Globalization;
using Convnet.Runtime;

namespace Convnet.Tuning;

/// <summary>The values one parameter of a search takes: a list (<see cref="ValueList"/>) or a range (<see cref="ValueRange"/>).</summary>
public abstract class Domain
{
    /// <summary>Every value in order, for grid search; null for a range of real numbers, which has no list.</summary>
    public abstract IReadOnlyList<string>? Values { get; }

    /// <summary>One value drawn from <paramref name="rng"/> (every value equally likely, or uniform over the range, or log-uniform).</summary>
    public abstract string Sample(ref Rng rng);

    /// <summary>The domain as the space's JSON writes it, e.g. <c>[64,128]</c> or <c>{"min":0.0003,"max":0.01,"log":true}</c>.</summary>
    public abstract string Describe();

    /// <summary>Whether the values are numbers (so they can be plotted on a number axis).</summary>
    public abstract bool IsNumeric { get; }

    /// <summary>Whether a plot should use a logarithmic axis.</summary>
    public virtual bool IsLog => false;
}

/// <summary>A list of values, each equally likely.</summary>
public sealed class ValueList : Domain
{
    private readonly string[] _values;

    /// <summary>The values in the given order (canonical text; not empty).</summary>
    public ValueList(IReadOnlyList<string> values, bool numeric)
    {
        ArgumentNullException.ThrowIfNull(values);
        ArgumentOutOfRangeException.ThrowIfZero(values.Count);
        _values = [.. values];
        IsNumeric = numeric;
    }

    /// <inheritdoc/>
    public override IReadOnlyList<string> Values => _values;

    /// <inheritdoc/>
    public override bool IsNumeric { get; }

    /// <inheritdoc/>
    public override string Sample(ref Rng rng) => _values[rng.NextInt(_values.Length)];

    /// <inheritdoc/>
    public override string Describe() => "[" + string.Join(",", _values.Select(v => IsNumeric ? v : System.Text.Json.JsonSerializer.Serialize(v))) + "]";
}

/// <summary>
/// A range [Min, Max]: whole numbers, each equally likely (or log-uniform, then floored), or real
/// numbers, uniform or log-uniform, drawn with <see cref="SignificantDigits"/> significant digits so
/// that settings and tables stay readable.
/// </summary>
public sealed class ValueRange : Domain
{
    /// <summary>Digits kept of a real number drawn from a range.</summary>
    public const int SignificantDigits = 3;

    /// <summary>A range from <paramref name="min"/> to <paramref name="max"/> (min ≤ max; positive min when <paramref name="log"/>).</summary>
    public ValueRange(double min, double max, bool log, bool integer)
    {
        if (!(min <= max) || !double.IsFinite(min) || !double.IsFinite(max))
        {
            throw new ArgumentException($"min {min} must be at most max {max}, both finite.", nameof(min));
        }
        if (log && !(min > 0))
        {
            throw new ArgumentException($"A log range needs min > 0, got {min}.", nameof(min));
        }
        (Min, Max, Log, Integer) = (min, max, log, integer);
    }

    /// <summary>The smallest value.</summary>
    public double Min { get; }
    /// <summary>The largest value.</summary>
    public double Max { get; }
    /// <summary>Log-uniform rather than uniform.</summary>
    public bool Log { get; }
    /// <summary>Whole numbers only.</summary>
    public bool Integer { get; }

    /// <inheritdoc/>
    public override bool IsNumeric => true;

    /// <inheritdoc/>
    public override bool IsLog => Log;

    /// <inheritdoc/>
    public override IReadOnlyList<string>? Values => Integer && Max - Min < 100_000
        ? [.. Enumerable.Range(0, (int)(Max - Min) + 1).Select(i => Format(Min + i))]
        : null;

    /// <inheritdoc/>
    public override string Sample(ref Rng rng)
    {
        double u = rng.NextDouble();
        if (Integer)
        {
            double x = Log ? Math.Floor(Math.Exp(Math.Log(Min) + u * (Math.Log(Max + 1) - Math.Log(Min)))) : Min + Math.Floor(u * (Max - Min + 1));
            return Format(Math.Clamp(x, Min, Max));
        }
        double y = Log ? Math.Exp(Math.Log(Min) + u * (Math.Log(Max) - Math.Log(Min))) : Min + u * (Max - Min);
        double rounded = double.Parse(y.ToString("G" + SignificantDigits.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
        return Format(Math.Clamp(rounded, Min, Max));
    }

    /// <summary>A number as the space's values are written: shortest round-trip text, invariant culture.</summary>
    public static string Format(double x) => x.ToString(CultureInfo.InvariantCulture);

    /// <inheritdoc/>
    public override string Describe() => $"{{\"min\":{Format(Min)},\"max\":{Format(Max)}{(Log ? ",\"log\":true" : "")}{(Integer ? ",\"integer\":true" : "")}}}";
}
