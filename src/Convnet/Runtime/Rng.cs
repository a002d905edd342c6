namespace Convnet.Runtime;

/// <summary>
/// xoshiro256** seeded by SplitMix64 (Blackman and Vigna, 2018): a small, fast generator whose
/// stream depends only on the seed, never on the runtime version or the thread count.
/// </summary>
public struct Rng
{
    private ulong _s0, _s1, _s2, _s3;

    /// <summary>A generator whose whole stream is fixed by <paramref name="seed"/>.</summary>
    public Rng(ulong seed)
    {
        ulong x = seed;
        _s0 = SplitMix(ref x);
        _s1 = SplitMix(ref x);
        _s2 = SplitMix(ref x);
        _s3 = SplitMix(ref x);
    }

    /// <summary>A generator for a sub-stream, e.g. (seed, layer index) or (seed, epoch).</summary>
    public static Rng Derive(ulong seed, ulong stream) => new(seed * 0x9E3779B97F4A7C15UL ^ (stream + 0x632BE59BD9B4E019UL) * 0xBF58476D1CE4E5B9UL);

    private static ulong SplitMix(ref ulong x)
    {
        ulong z = x += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>The next 64 random bits.</summary>
    public ulong NextUInt64()
    {
        ulong result = ulong.RotateLeft(_s1 * 5, 7) * 9;
        ulong t = _s1 << 17;
        _s2 ^= _s0;
        _s3 ^= _s1;
        _s1 ^= _s2;
        _s0 ^= _s3;
        _s2 ^= t;
        _s3 = ulong.RotateLeft(_s3, 45);
        return result;
    }

    /// <summary>
    /// Draws one number per value of <paramref name="mask"/>, as a loop of
    /// <c>mask[j] = NextFloat() &lt; rate ? 0 : keep</c> would, with the same values and the same
    /// state afterwards: the state stays in registers and the choice is made without a branch
    /// (a dropout rate of 0.4 would mispredict it for almost half the values).
    /// </summary>
    public void FillDropoutMask(Span<float> mask, float rate, float keep)
    {
        // NextFloat() < rate ⟺ (x >> 40) · 2⁻²⁴ < rate ⟺ (x >> 40) < ⌈rate · 2²⁴⌉ (both sides exact).
        long threshold = (long)Math.Ceiling(rate * (double)(1 << 24));
        uint keepBits = BitConverter.SingleToUInt32Bits(keep);
        ulong s0 = _s0, s1 = _s1, s2 = _s2, s3 = _s3;
        for (int j = 0; j < mask.Length; j++)
        {
            ulong result = ulong.RotateLeft(s1 * 5, 7) * 9;
            ulong t = s1 << 17;
            s2 ^= s0;
            s3 ^= s1;
            s1 ^= s2;
            s0 ^= s3;
            s2 ^= t;
            s3 = ulong.RotateLeft(s3, 45);
            // All ones when the value is kept, zero when it is dropped.
            uint kept = (uint)~(((long)(result >> 40) - threshold) >> 63);
            mask[j] = BitConverter.UInt32BitsToSingle(keepBits & kept);
        }
        (_s0, _s1, _s2, _s3) = (s0, s1, s2, s3);
    }

    /// <summary>Uniform in [0, 1) with 24 random bits.</summary>
    public float NextFloat() => (NextUInt64() >> 40) * (1.0f / (1 << 24));

    /// <summary>Uniform in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform in [low, high).</summary>
    public float NextFloat(float low, float high) => low + (high - low) * NextFloat();

    /// <summary>Uniform integer in [0, n) (Lemire's multiply-shift, unbiased enough for n ≪ 2^32).</summary>
    public int NextInt(int n)
    {
        if (n <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(n), n, "Must be positive.");
        }
        return (int)(((NextUInt64() >> 32) * (ulong)n) >> 32);
    }

    /// <summary>Standard normal by Box–Muller.</summary>
    public double NextGaussian()
    {
        double u1 = 1.0 - NextDouble();
        double u2 = NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }

    /// <summary>Fisher–Yates shuffle.</summary>
    public void Shuffle<T>(Span<T> items)
    {
        for (int i = items.Length - 1; i > 0; i--)
        {
            int j = NextInt(i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }
}
