using Convnet.Runtime;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit;

namespace Convnet.Tests.Runtime;

/// <summary>The generator's bulk draws against the one-at-a-time draws they stand for.</summary>
public class RngTests
{
    private static float[] MaskByNextFloat(ulong seed, int length, float rate, float keep)
    {
        var rng = new Rng(seed);
        var mask = new float[length];
        for (int j = 0; j < length; j++)
        {
            mask[j] = rng.NextFloat() < rate ? 0 : keep;
        }
        return mask;
    }

    [Theory]
    [InlineData(0f)]
    [InlineData(0.25f)]
    [InlineData(0.4f)]
    [InlineData(0.5f)]
    [InlineData(0.999f)]
    public void FillDropoutMask_gives_the_values_of_the_NextFloat_loop(float rate)
    {
        float keep = 1 / (1 - rate);
        var rng = new Rng(42);
        var mask = new float[10_007];
        rng.FillDropoutMask(mask, rate, keep);
        Assert.Equal(MaskByNextFloat(42, mask.Length, rate, keep), mask);
        Assert.Contains(keep, mask);
        if (rate > 0)
        {
            Assert.Contains(0f, mask);
        }
    }

    [Property(MaxTest = 200)]
    public Property FillDropoutMask_matches_the_loop_and_leaves_the_same_state(ulong seed, byte length, ushort rateBits) =>
        Prop.ToProperty(Check(seed, length, rateBits / 65536f));

    private static bool Check(ulong seed, int length, float rate)
    {
        var bulk = new Rng(seed);
        var mask = new float[length];
        bulk.FillDropoutMask(mask, rate, 2.5f);
        var single = new Rng(seed);
        for (int j = 0; j < length; j++)
        {
            if (mask[j] != (single.NextFloat() < rate ? 0 : 2.5f))
            {
                return false;
            }
        }
        return bulk.NextUInt64() == single.NextUInt64();
    }

    [Fact]
    public void FillDropoutMask_treats_a_draw_equal_to_the_rate_as_kept()
    {
        // A rate that is an exact multiple of 2^-24 meets some draw exactly: NextFloat() < rate is then false.
        const float rate = 0.5f;
        var rng = new Rng(7);
        var mask = new float[100_000];
        rng.FillDropoutMask(mask, rate, 1);
        Assert.Equal(MaskByNextFloat(7, mask.Length, rate, 1), mask);
    }
}
