using System.Globalization;
using Convnet.Layers;
using Convnet.Tensors;

namespace Convnet.Models;

/// <summary>
/// How much memory a model may claim, checked before anything is allocated: a
/// <see cref="Sequential"/> refuses a layer whose parameters, or a batch size whose buffers, would
/// take the model above <see cref="Limit"/> (a <see cref="ModelTooLargeException"/> giving the
/// estimate and the limit), so no architecture from a file, a spec or code can take the machine's memory.
/// </summary>
public static class MemoryBudget
{
    private static readonly AsyncLocal<long?> Override = new();

    /// <summary>
    /// Floats per trainable parameter in the estimate: the value, its gradient, an optimizer's two
    /// moments (Adam) and the moving average of the weights.
    /// </summary>
    public const int FloatsPerParameter = 5;

    /// <summary>Half of the memory this process may use (<see cref="GCMemoryInfo.TotalAvailableMemoryBytes"/>, which honours container limits).</summary>
    public static long DefaultLimit => GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / 2;

    /// <summary>
    /// The most bytes one model may take; <see cref="DefaultLimit"/> unless set. Setting it applies
    /// to this call context and the work it starts (an <see cref="AsyncLocal{T}"/>), so concurrent
    /// callers with different limits do not disturb each other.
    /// </summary>
    public static long Limit
    {
        get => Override.Value ?? DefaultLimit;
        set
        {
            if (value < 1)
            {
                throw new ArgumentOutOfRangeException(nameof(value), value, "The memory limit must be positive.");
            }
            Override.Value = value;
        }
    }

    /// <summary>Returns to <see cref="DefaultLimit"/> in this call context.</summary>
    public static void Reset() => Override.Value = null;

    /// <summary>Sets <see cref="Limit"/> until the returned scope is disposed, then restores the previous setting.</summary>
    public static IDisposable Use(long limit)
    {
        var scope = new Scope(Override.Value);
        Limit = limit;
        return scope;
    }

    private sealed class Scope(long? previous) : IDisposable
    {
        public void Dispose() => Override.Value = previous;
    }

    /// <summary>
    /// A size such as "8G", "512M", "1.5G", "64K" (powers of 1024; an optional trailing "B" or
    /// "iB") or a byte count; null when <paramref name="text"/> is not one or is not positive.
    /// </summary>
    public static long? ParseSize(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        string t = text.Trim();
        if (t.EndsWith("iB", StringComparison.OrdinalIgnoreCase))
        {
            t = t[..^2];
        }
        else if (t.EndsWith('B') || t.EndsWith('b'))
        {
            t = t[..^1];
        }
        long unit = t.Length == 0 ? 1 : char.ToUpperInvariant(t[^1]) switch
        {
            'K' => 1L << 10,
            'M' => 1L << 20,
            'G' => 1L << 30,
            'T' => 1L << 40,
            _ => 1,
        };
        if (unit > 1)
        {
            t = t[..^1];
        }
        if (!double.TryParse(t, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double value) || !(value * unit >= 1) || value * unit > long.MaxValue / 2)
        {
            return null;
        }
        return (long)(value * unit);
    }

    /// <summary>Estimated bytes of <paramref name="parameters"/> trainable and <paramref name="state"/> non-trainable values.</summary>
    public static long ParameterBytes(long parameters, long state) => (parameters * FloatsPerParameter + state) * sizeof(float);

    /// <summary>
    /// Estimated bytes of <paramref name="layers"/>' batch buffers for <paramref name="batch"/>
    /// samples of <paramref name="input"/> (the model's input and each layer's buffers), without building anything.
    /// </summary>
    public static long BufferBytes(IEnumerable<Layer> layers, Shape input, int batch)
    {
        ArgumentNullException.ThrowIfNull(layers);
        long values = batch * ((long)input.Height * input.Width * input.Channels);
        var shape = input;
        foreach (var layer in layers)
        {
            values += layer.BufferValues(shape, batch);
            shape = layer.ComputeOutputShape(shape);
        }
        return values * sizeof(float);
    }

    /// <summary>Throws when <paramref name="parameterBytes"/> + <paramref name="bufferBytes"/> exceeds <see cref="Limit"/>.</summary>
    /// <exception cref="ModelTooLargeException">The estimate is above the limit.</exception>
    public static void Check(long parameterBytes, long bufferBytes, int batch)
    {
        long limit = Limit;
        long total = parameterBytes + bufferBytes;
        if (total > limit)
        {
            throw new ModelTooLargeException(string.Create(CultureInfo.InvariantCulture,
                $"the model would need about {Format(total)} (parameters {Format(parameterBytes)}, buffers for a batch of {batch} {Format(bufferBytes)}), above the memory limit of {Format(limit)}"))
            {
                AboveLimit = true,
            };
        }
    }

    /// <summary>Bytes as "12.3 GB", "45.6 MB" or "789 KB" (powers of 1024).</summary>
    public static string Format(long bytes) => bytes switch
    {
        >= 1L << 30 => string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 30):F1} GB"),
        >= 1L << 20 => string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 20):F1} MB"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{(bytes + 1023) / 1024} KB"),
    };
}

/// <summary>A model, or a batch size for it, whose estimated memory is above <see cref="MemoryBudget.Limit"/>, or a size beyond what one array holds.</summary>
public sealed class ModelTooLargeException(string message) : ArgumentException(message)
{
    /// <summary>True when the estimate is above <see cref="MemoryBudget.Limit"/> (a larger limit would admit it); false for a size beyond one array.</summary>
    public bool AboveLimit { get; init; }
}
