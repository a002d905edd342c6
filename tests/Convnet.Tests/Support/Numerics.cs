using Convnet.Runtime;

namespace Convnet.Tests.Support;

/// <summary>Seeded random fills and small numeric helpers shared by the kernel and layer tests.</summary>
internal static class Numerics
{
    /// <summary>The unit roundoff of float32, 2⁻²⁴: one correctly rounded operation has relative error ≤ u.</summary>
    public const double U32 = 1.0 / (1 << 24);

    public static void Uniform(ref Rng rng, Span<float> values, float low = -1, float high = 1)
    {
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = rng.NextFloat(low, high);
        }
    }

    public static float[] Uniform(ref Rng rng, int length, float low = -1, float high = 1)
    {
        var values = new float[length];
        Uniform(ref rng, values, low, high);
        return values;
    }

    /// <summary>Values in ±[gap, 1): never within <paramref name="gap"/> of 0, with random signs.</summary>
    public static void AwayFromZero(ref Rng rng, Span<float> values, float gap)
    {
        for (int i = 0; i < values.Length; i++)
        {
            float magnitude = rng.NextFloat(gap, 1);
            values[i] = rng.NextInt(2) == 0 ? magnitude : -magnitude;
        }
    }

    /// <summary>A random permutation of 0..n−1 scaled by <paramref name="spacing"/> and centred: all values differ by ≥ spacing.</summary>
    public static void ScaledPermutation(ref Rng rng, Span<float> values, float spacing)
    {
        var order = new int[values.Length];
        for (int i = 0; i < order.Length; i++)
        {
            order[i] = i;
        }
        rng.Shuffle(order.AsSpan());
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = (order[i] - values.Length / 2) * spacing;
        }
    }

    /// <summary>All of 0..length−1 when there are at most <paramref name="all"/>, else <paramref name="sample"/> distinct random ones.</summary>
    public static int[] Coordinates(ref Rng rng, int length, int all = 200, int sample = 128)
    {
        var indices = new int[length];
        for (int i = 0; i < length; i++)
        {
            indices[i] = i;
        }
        if (length <= all)
        {
            return indices;
        }
        rng.Shuffle(indices.AsSpan());
        return indices[..sample];
    }

    public static double Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double sum = 0;
        for (int i = 0; i < a.Length; i++)
        {
            sum += (double)a[i] * b[i];
        }
        return sum;
    }

    public static double MaxAbs(ReadOnlySpan<float> values)
    {
        double max = 0;
        foreach (float v in values)
        {
            max = Math.Max(max, Math.Abs(v));
        }
        return max;
    }

    public static float[] Abs(ReadOnlySpan<float> values)
    {
        var result = new float[values.Length];
        for (int i = 0; i < values.Length; i++)
        {
            result[i] = Math.Abs(values[i]);
        }
        return result;
    }

    /// <summary>Asserts two float spans are equal bit for bit (so NaN payloads and the sign of zero count).</summary>
    public static void AssertBitEqual(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, string what)
    {
        Xunit.Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            int e = BitConverter.SingleToInt32Bits(expected[i]);
            int a = BitConverter.SingleToInt32Bits(actual[i]);
            if (e != a)
            {
                Xunit.Assert.Fail($"{what}: element {i} of {expected.Length} differs: expected {expected[i]:R} (0x{e:X8}), got {actual[i]:R} (0x{a:X8}).");
            }
        }
    }
}
