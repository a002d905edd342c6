using Convnet.Kernels;
using Convnet.Runtime;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit;

namespace Convnet.Tests.Kernels;

/// <summary>
/// Max pooling, vectorised across channels, against its scalar twin, bit for bit (a max is exact):
/// the same maxima and the same argmax indices, including ties (first in window order wins).
/// Channels 1–40 cover below, at, between and above the 16-float vector width.
/// </summary>
public class PoolingTests
{
    public sealed record PoolCase(int Pool, int Stride, int Height, int Width, int Channels, bool Ties, int Seed);

    private static Arbitrary<PoolCase> Cases =>
        (from pool in Gen.Choose(1, 3)
         from stride in Gen.Choose(1, 3)
         from height in Gen.Choose(pool, 9)
         from width in Gen.Choose(pool, 9)
         from channels in Gen.Choose(1, 40)
         from ties in Gen.Elements(false, true)
         from seed in Gen.Choose(0, int.MaxValue)
         select new PoolCase(pool, stride, height, width, channels, ties, seed)).ToArbitrary();

    [Property(MaxTest = 150)]
    public Property MaxForward_equals_MaxForwardScalar_and_picks_the_first_maximum()
        => Prop.ForAll(Cases, CheckMaxForward);

    /// <summary>The 2×2 stride-2 window over a multiple of 16 channels, which has a path of its own with 512-bit vectors.</summary>
    [Property(MaxTest = 60)]
    public Property MaxForward_of_2x2_windows_over_16_channel_blocks_equals_MaxForwardScalar()
        => Prop.ForAll(
            (from height in Gen.Choose(2, 11)
             from width in Gen.Choose(2, 11)
             from blocks in Gen.Choose(1, 3)
             from ties in Gen.Elements(false, true)
             from seed in Gen.Choose(0, int.MaxValue)
             select new PoolCase(2, 2, height, width, 16 * blocks, ties, seed)).ToArbitrary(),
            CheckMaxForward);

    private static void CheckMaxForward(PoolCase c)
    {
        var rng = new Rng((ulong)c.Seed);
        var g = ConvGeometry.Create(c.Height, c.Width, c.Channels, c.Pool, c.Stride, same: false);
        var x = new float[c.Height * c.Width * c.Channels];
        for (int i = 0; i < x.Length; i++)
        {
            // With ties, values come from {0, 1, 2, 3} so windows often hold equal maxima.
            x[i] = c.Ties ? rng.NextInt(4) : rng.NextFloat(-1, 1);
        }
        int outputs = g.OutPixels * c.Channels;
        var y = new float[outputs];
        var argmax = new int[outputs];
        var yScalar = new float[outputs];
        var argmaxScalar = new int[outputs];
        Pooling.MaxForward(x, g, y, argmax);
        Pooling.MaxForwardScalar(x, g, yScalar, argmaxScalar);
        Support.Numerics.AssertBitEqual(yScalar, y, $"max {c}");
        Assert.Equal(argmaxScalar, argmax);

        // And both are right: the first (ky, kx) in the window holding the window's maximum.
        for (int oy = 0; oy < g.OutHeight; oy++)
        {
            for (int ox = 0; ox < g.OutWidth; ox++)
            {
                for (int ch = 0; ch < c.Channels; ch++)
                {
                    int first = -1;
                    for (int ky = 0; ky < c.Pool; ky++)
                    {
                        for (int kx = 0; kx < c.Pool; kx++)
                        {
                            int index = ((oy * c.Stride + ky) * c.Width + ox * c.Stride + kx) * c.Channels + ch;
                            if (first < 0 || x[index] > x[first])
                            {
                                first = index;
                            }
                        }
                    }
                    int o = (oy * g.OutWidth + ox) * c.Channels + ch;
                    Assert.Equal(first, argmax[o]);
                    Assert.Equal(x[first], y[o]);
                }
            }
        }
    }

    [Property(MaxTest = 60)]
    public Property MaxBackwardTiled_equals_the_scatter_twins_with_and_without_the_ReLU_mask()
        => Prop.ForAll(
            (from pool in Gen.Choose(1, 3)
             from height in Gen.Choose(pool, 9)
             from width in Gen.Choose(pool, 9)
             from blocks in Gen.Choose(1, 6)
             from rectify in Gen.Elements(false, true)
             from seed in Gen.Choose(0, int.MaxValue)
             select (pool, height, width, channels: 8 * blocks, rectify, seed)).ToArbitrary(),
            c =>
            {
                var g = ConvGeometry.Create(c.height, c.width, c.channels, c.pool, c.pool, same: false);
                if (!Pooling.CanTileBackward(g))
                {
                    // Only 8 channels with 512-bit vectors, or no vectors at all, fall back to the scatter twins.
                    Assert.False(c.channels % 16 == 0 && System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated, $"not tiled: {c}");
                    return;
                }
                var rng = new Rng((ulong)c.seed);
                // x as a ReLU's output: about half exact zeros.
                var x = new float[c.height * c.width * c.channels];
                for (int i = 0; i < x.Length; i++)
                {
                    x[i] = Math.Max(0, rng.NextFloat(-1, 1));
                }
                int outputs = g.OutPixels * c.channels;
                var y = new float[outputs];
                var argmax = new int[outputs];
                Pooling.MaxForward(x, g, y, argmax);
                var dy = new float[outputs];
                for (int i = 0; i < outputs; i++)
                {
                    dy[i] = rng.NextFloat(-1, 1);
                }
                var expected = new float[x.Length];
                if (c.rectify)
                {
                    Pooling.MaxBackwardRectified(dy, argmax, x, expected);
                }
                else
                {
                    Pooling.MaxBackward(dy, argmax, expected);
                }
                var actual = new float[x.Length];
                actual.AsSpan().Fill(float.NaN);
                // Uncovered rows and columns are the caller's to clear.
                int coveredH = g.OutHeight * c.pool, coveredW = g.OutWidth * c.pool;
                for (int yy = 0; yy < c.height; yy++)
                {
                    for (int xx = 0; xx < c.width; xx++)
                    {
                        if (yy >= coveredH || xx >= coveredW)
                        {
                            actual.AsSpan((yy * c.width + xx) * c.channels, c.channels).Clear();
                        }
                    }
                }
                Pooling.MaxBackwardTiled(dy, argmax, c.rectify ? y : default, g, actual);
                Support.Numerics.AssertBitEqual(expected, actual, $"tiled {c}");
            });

    [Fact]
    public void MaxBackward_routes_each_gradient_to_its_argmax_and_accumulates()
    {
        float[] dx = [1, 1, 1, 1];
        Pooling.MaxBackward([0.5f, 2f, 4f], [3, 0, 3], dx);
        Assert.Equal([3f, 1f, 1f, 5.5f], dx);
    }

    [Property(MaxTest = 100)]
    public Property AverageForward_and_AverageBackward_equal_their_scalar_twins()
        => Prop.ForAll(Cases, c =>
        {
            var rng = new Rng((ulong)c.Seed);
            var g = ConvGeometry.Create(c.Height, c.Width, c.Channels, c.Pool, c.Stride, same: false);
            var x = new float[c.Height * c.Width * c.Channels];
            for (int i = 0; i < x.Length; i++)
            {
                x[i] = rng.NextFloat(-1, 1);
            }
            var y = new float[g.OutPixels * c.Channels];
            var yScalar = new float[y.Length];
            Pooling.AverageForward(x, g, y);
            Pooling.AverageForwardScalar(x, g, yScalar);
            Support.Numerics.AssertBitEqual(yScalar, y, $"average {c}");

            var dy = new float[y.Length];
            for (int i = 0; i < dy.Length; i++)
            {
                dy[i] = rng.NextFloat(-1, 1);
            }
            // Filled with garbage: the kernels clear dx themselves.
            var dx = Enumerable.Repeat(7f, x.Length).ToArray();
            var dxScalar = Enumerable.Repeat(-7f, x.Length).ToArray();
            Pooling.AverageBackward(dy, g, dx);
            Pooling.AverageBackwardScalar(dy, g, dxScalar);
            Support.Numerics.AssertBitEqual(dxScalar, dx, $"average backward {c}");
        });

    [Fact]
    public void Average_pooling_by_hand()
    {
        // x: 3×3×1 = 1..9, 2×2 windows with stride 1 → the means of the four 2×2 blocks.
        var g = ConvGeometry.Create(3, 3, 1, 2, 1, same: false);
        float[] x = [1, 2, 3, 4, 5, 6, 7, 8, 9];
        var y = new float[4];
        Pooling.AverageForward(x, g, y);
        Assert.Equal([3f, 4f, 6f, 7f], y);
        // dy = 4 everywhere: each input gets 1 per window it is in (corners 1, edges 2, centre 4).
        var dx = new float[9];
        Pooling.AverageBackward([4f, 4f, 4f, 4f], g, dx);
        Assert.Equal([1f, 2f, 1f, 2f, 4f, 2f, 1f, 2f, 1f], dx);
    }
}
