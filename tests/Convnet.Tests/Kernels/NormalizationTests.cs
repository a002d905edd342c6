using Convnet.Kernels;
using Convnet.Runtime;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit;

namespace Convnet.Tests.Kernels;

/// <summary>
/// Batch normalization's vector passes against their scalar twins, bit for bit: each channel is
/// summed in the same row order, so not even the double accumulators may differ. Channels 1–40
/// cover below, at, between and above the 8-float vector width; zero rows are allowed.
/// </summary>
public class NormalizationTests
{
    public sealed record Case(int Rows, int Channels, bool Rectified, int Seed);

    private static Arbitrary<Case> Cases =>
        (from rows in Gen.Choose(0, 30)
         from channels in Gen.Choose(1, 40)
         from rectified in Gen.Elements(false, true)
         from seed in Gen.Choose(0, int.MaxValue)
         select new Case(rows, channels, rectified, seed)).ToArbitrary();

    private static double[] Doubles(ref Rng rng, int length)
    {
        var values = new double[length];
        for (int i = 0; i < length; i++)
        {
            values[i] = rng.NextFloat(-1, 1) * (1 + 1e-9 * i);
        }
        return values;
    }

    private static void AssertBitEqual(double[] expected, double[] actual, string what)
    {
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.True(BitConverter.DoubleToInt64Bits(expected[i]) == BitConverter.DoubleToInt64Bits(actual[i]), $"{what}[{i}]: {expected[i]:R} vs {actual[i]:R}");
        }
    }

    [Property(MaxTest = 150)]
    public Property Channel_sums_and_squared_deviations_equal_their_scalar_twins()
        => Prop.ForAll(Cases, c =>
        {
            var rng = new Rng((ulong)c.Seed);
            var x = Support.Numerics.Uniform(ref rng, c.Rows * c.Channels, -3, 5);
            var mean = Doubles(ref rng, c.Channels);
            // Non-zero starting sums: the kernels accumulate.
            var start = Doubles(ref rng, c.Channels);
            var sums = (double[])start.Clone();
            var sumsScalar = (double[])start.Clone();
            Normalization.AddChannelSums(x, c.Channels, sums);
            Normalization.AddChannelSumsScalar(x, c.Channels, sumsScalar);
            AssertBitEqual(sumsScalar, sums, $"sums {c}");

            var squares = (double[])start.Clone();
            var squaresScalar = (double[])start.Clone();
            Normalization.AddSquaredDeviations(x, mean, c.Channels, squares);
            Normalization.AddSquaredDeviationsScalar(x, mean, c.Channels, squaresScalar);
            AssertBitEqual(squaresScalar, squares, $"squares {c}");

            // And the twins are right (to rounding): compare with a direct sum.
            for (int ch = 0; ch < c.Channels; ch++)
            {
                double direct = start[ch];
                for (int r = 0; r < c.Rows; r++)
                {
                    direct += x[r * c.Channels + ch];
                }
                Assert.Equal(direct, sumsScalar[ch], 9);
            }
        });

    [Property(MaxTest = 150)]
    public Property Normalize_equals_its_scalar_twin()
        => Prop.ForAll(Cases, c =>
        {
            var rng = new Rng((ulong)c.Seed);
            var x = Support.Numerics.Uniform(ref rng, c.Rows * c.Channels, -3, 5);
            var shift = Support.Numerics.Uniform(ref rng, c.Channels);
            var invStd = Support.Numerics.Uniform(ref rng, c.Channels, 0.1f, 4);
            var gamma = Support.Numerics.Uniform(ref rng, c.Channels);
            var beta = Support.Numerics.Uniform(ref rng, c.Channels);
            var y = new float[x.Length];
            var yScalar = new float[x.Length];
            Normalization.Normalize(x, shift, invStd, gamma, beta, c.Channels, y);
            Normalization.NormalizeScalar(x, shift, invStd, gamma, beta, c.Channels, yScalar);
            Support.Numerics.AssertBitEqual(yScalar, y, $"y {c}");
            for (int i = 0; i < x.Length; i++)
            {
                int ch = i % c.Channels;
                Assert.Equal(gamma[ch] * ((x[i] - shift[ch]) * invStd[ch]) + beta[ch], yScalar[i], 5);
            }
        });

    [Property(MaxTest = 150)]
    public Property Gradient_sums_and_backward_equal_their_scalar_twins()
        => Prop.ForAll(Cases, c =>
        {
            var rng = new Rng((ulong)c.Seed);
            var dy = Support.Numerics.Uniform(ref rng, c.Rows * c.Channels);
            // x holds exact zeros and negatives, as a ReLU's output (or anything else) would.
            var x = Support.Numerics.Uniform(ref rng, c.Rows * c.Channels, -3, 3).Select(v => v < -2 ? 0 : v).ToArray();
            var shift = Support.Numerics.Uniform(ref rng, c.Channels);
            var invStd = Support.Numerics.Uniform(ref rng, c.Channels, 0.1f, 4);
            var start = Doubles(ref rng, c.Channels);
            var sumDy = (double[])start.Clone();
            var sumDyXhat = (double[])start.Clone();
            var sumDyScalar = (double[])start.Clone();
            var sumDyXhatScalar = (double[])start.Clone();
            Normalization.AddGradientSums(dy, x, shift, invStd, c.Channels, sumDy, sumDyXhat);
            Normalization.AddGradientSumsScalar(dy, x, shift, invStd, c.Channels, sumDyScalar, sumDyXhatScalar);
            AssertBitEqual(sumDyScalar, sumDy, $"sumDy {c}");
            AssertBitEqual(sumDyXhatScalar, sumDyXhat, $"sumDyXhat {c}");

            var scale = Support.Numerics.Uniform(ref rng, c.Channels);
            var meanDy = Doubles(ref rng, c.Channels);
            var meanDyXhat = Doubles(ref rng, c.Channels);
            var dx = new float[dy.Length];
            var dxScalar = new float[dy.Length];
            Normalization.Backward(dy, x, shift, invStd, scale, meanDy, meanDyXhat, c.Rectified, c.Channels, dx);
            Normalization.BackwardScalar(dy, x, shift, invStd, scale, meanDy, meanDyXhat, c.Rectified, c.Channels, dxScalar);
            Support.Numerics.AssertBitEqual(dxScalar, dx, $"dx {c}");
            for (int i = 0; i < dy.Length; i++)
            {
                int ch = i % c.Channels;
                float xhat = (x[i] - shift[ch]) * invStd[ch];
                float expected = c.Rectified && x[i] <= 0 ? 0 : scale[ch] * (float)(dy[i] - meanDy[ch] - xhat * meanDyXhat[ch]);
                Assert.Equal(expected, dxScalar[i], 5);
            }
        });

    [Fact]
    public void Lengths_that_are_not_whole_rows_are_rejected()
    {
        var sums = new double[3];
        Assert.Throws<ArgumentException>(() => Normalization.AddChannelSums(new float[7], 3, sums));
        Assert.Throws<ArgumentException>(() => Normalization.AddChannelSums(new float[6], 2, sums));
    }
}
