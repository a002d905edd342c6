using Convnet.Kernels;
using Convnet.Runtime;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit;

namespace Convnet.Tests.Kernels;

/// <summary>
/// Winograd F(2×2, 3×3) and the inference passes: the vectorised transforms against their scalar
/// twins bit for bit (the same operations in the same order), and the whole algorithm against the
/// direct convolution within float rounding. Channels cover the 8-float vector, the 16-float one
/// of F(4×4, 3×3)'s transforms on AVX-512 (16, 32; 8 and 24 take 8 there) and their absence (the
/// twin runs); odd maps the zero-read edge tiles.
/// </summary>
public class WinogradTests
{
    public sealed record WinogradCase(int Height, int Width, int Channels, int Filters, bool Relu, bool Affine, bool Pool, int Seed);

    private static Arbitrary<WinogradCase> Cases =>
        (from height in Gen.Choose(3, 12)
         from width in Gen.Choose(3, 12)
         from channels in Gen.Elements(1, 3, 8, 16, 24)
         from filters in Gen.Elements(1, 5, 8, 16, 32)
         from relu in Gen.Elements(false, true)
         from affine in Gen.Elements(false, true)
         from pool in Gen.Elements(false, true)
         from seed in Gen.Choose(0, int.MaxValue)
         where !pool || (height >= 4 && width >= 4)
         select new WinogradCase(height, width, channels, filters, relu, affine, pool, seed)).ToArbitrary();

    private static float[] Random(ref Rng rng, int length, float low = -1, float high = 1)
    {
        var values = new float[length];
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = rng.NextFloat(low, high);
        }
        return values;
    }

    [Property(MaxTest = 120)]
    public Property Transforms_equal_their_scalar_twins_and_the_convolution_equals_the_direct_one()
        => Prop.ForAll(Cases, c =>
        {
            var rng = new Rng((ulong)c.Seed);
            int oh = c.Height - 2, ow = c.Width - 2;
            var x = Random(ref rng, c.Height * c.Width * c.Channels);
            var w = Random(ref rng, 9 * c.Channels * c.Filters);
            var bias = Random(ref rng, c.Filters);
            var scale = c.Affine ? Random(ref rng, c.Filters, 0.5f, 2) : [];
            var shift = c.Affine ? Random(ref rng, c.Filters) : [];
            var (tileRows, tileColumns) = c.Pool ? (oh / 2, ow / 2) : Winograd.Tiles(oh, ow);
            int tiles = tileRows * tileColumns;

            // Two images' tiles side by side, the second at row `tiles`, as the plan groups them.
            int stride = 2 * tiles * c.Channels;
            var v = new float[Winograd.Points * stride];
            var vScalar = new float[v.Length];
            Winograd.TransformInput(x, c.Height, c.Width, c.Channels, tileRows, tileColumns, v, tiles, stride);
            Winograd.TransformInputScalar(x, c.Height, c.Width, c.Channels, tileRows, tileColumns, vScalar, tiles, stride);
            Support.Numerics.AssertBitEqual(vScalar, v, $"input transform {c}");

            var u = new float[Winograd.Points * c.Channels * c.Filters];
            Winograd.TransformWeights(w, c.Channels, c.Filters, u);
            int mStride = 2 * tiles * c.Filters;
            var m = new float[Winograd.Points * mStride];
            for (int p = 0; p < Winograd.Points; p++)
            {
                Gemm.MultiplyScalar(v.AsSpan(p * stride, stride), c.Channels, false, u.AsSpan(p * c.Channels * c.Filters, c.Channels * c.Filters), c.Filters, false,
                    2 * tiles, c.Filters, c.Channels, m.AsSpan(p * mStride, mStride), c.Filters, accumulate: false);
            }
            int outputs = (c.Pool ? tiles : oh * ow) * c.Filters;
            var y = new float[outputs];
            var yScalar = new float[outputs];
            var epilogue = new ConvEpilogue(bias, c.Relu, scale, shift, c.Pool);
            Winograd.TransformOutput(m, tiles, mStride, tileRows, tileColumns, c.Filters, epilogue, y, oh, ow);
            Winograd.TransformOutputScalar(m, tiles, mStride, tileRows, tileColumns, c.Filters, epilogue, yScalar, oh, ow);
            Support.Numerics.AssertBitEqual(yScalar, y, $"output transform {c}");
            // Filters in two ranges (a split image's parts): the whole call's bits.
            var halves = new float[outputs];
            int half = c.Filters / 16 * 8;
            Winograd.TransformOutput(m, tiles, mStride, tileRows, tileColumns, c.Filters, 0, half, epilogue, halves, oh, ow);
            Winograd.TransformOutput(m, tiles, mStride, tileRows, tileColumns, c.Filters, half, c.Filters, epilogue, halves, oh, ow);
            Support.Numerics.AssertBitEqual(y, halves, $"output transform by filters {c}");

            // The direct convolution, then the same epilogue and pooling.
            var g = ConvGeometry.Create(c.Height, c.Width, c.Channels, 3, 1, same: false);
            var direct = new float[oh * ow * c.Filters];
            Convolution.ForwardScalar(x, w, bias, g, c.Filters, direct);
            for (int i = 0; i < direct.Length; i++)
            {
                direct[i] = epilogue.Apply(direct[i], i % c.Filters);
            }
            var expected = direct;
            if (c.Pool)
            {
                expected = new float[outputs];
                InferencePasses.MaxPoolScalar(direct, ConvGeometry.Create(oh, ow, c.Filters, 2, 2, same: false), expected);
            }
            for (int i = 0; i < outputs; i++)
            {
                // Sums of up to 9·24 products of values in [−1, 1], scaled by up to 2: rounding stays far below this.
                Assert.True(Math.Abs(expected[i] - y[i]) <= 2e-5f * (1 + Math.Abs(expected[i])), $"{c}: output {i} is {y[i]}, direct {expected[i]}");
            }
        });

    [Property(MaxTest = 120)]
    public Property F4_transforms_equal_their_scalar_twins_and_the_convolution_equals_the_direct_one()
        => Prop.ForAll(Cases, c =>
        {
            var rng = new Rng((ulong)c.Seed);
            int oh = c.Height - 2, ow = c.Width - 2;
            var x = Random(ref rng, c.Height * c.Width * c.Channels);
            var w = Random(ref rng, 9 * c.Channels * c.Filters);
            var bias = Random(ref rng, c.Filters);
            var scale = c.Affine ? Random(ref rng, c.Filters, 0.5f, 2) : [];
            var shift = c.Affine ? Random(ref rng, c.Filters) : [];
            var (tileRows, tileColumns) = Winograd4.Tiles(oh, ow);
            int tiles = tileRows * tileColumns;

            // The image's tiles after another image's, as the plan groups them.
            int stride = Winograd.PointStride(2 * tiles * c.Channels);
            var v = new float[Winograd4.Points * stride];
            var vScalar = new float[v.Length];
            Winograd4.TransformInput(x, c.Height, c.Width, c.Channels, tileRows, tileColumns, v, tiles, stride);
            Winograd4.TransformInputScalar(x, c.Height, c.Width, c.Channels, tileRows, tileColumns, vScalar, tiles, stride);
            Support.Numerics.AssertBitEqual(vScalar, v, $"input transform {c}");

            var u = new float[Winograd4.Points * c.Channels * c.Filters];
            Winograd4.TransformWeights(w, c.Channels, c.Filters, u);
            int mStride = Winograd.PointStride(2 * tiles * c.Filters);
            var m = new float[Winograd4.Points * mStride];
            for (int p = 0; p < Winograd4.Points; p++)
            {
                Gemm.MultiplyScalar(v.AsSpan(p * stride, 2 * tiles * c.Channels), c.Channels, false, u.AsSpan(p * c.Channels * c.Filters, c.Channels * c.Filters), c.Filters, false,
                    2 * tiles, c.Filters, c.Channels, m.AsSpan(p * mStride, 2 * tiles * c.Filters), c.Filters, accumulate: false);
            }
            var y = new float[oh * ow * c.Filters];
            var yScalar = new float[y.Length];
            var epilogue = new ConvEpilogue(bias, c.Relu, scale, shift, false);
            Winograd4.TransformOutput(m, tiles, mStride, tileRows, tileColumns, c.Filters, epilogue, y, oh, ow);
            Winograd4.TransformOutputScalar(m, tiles, mStride, tileRows, tileColumns, c.Filters, epilogue, yScalar, oh, ow);
            Support.Numerics.AssertBitEqual(yScalar, y, $"output transform {c}");
            var halves = new float[y.Length];
            int half = c.Filters / 16 * 8;
            Winograd4.TransformOutput(m, tiles, mStride, tileRows, tileColumns, c.Filters, 0, half, epilogue, halves, oh, ow);
            Winograd4.TransformOutputScalar(m, tiles, mStride, tileRows, tileColumns, c.Filters, half, c.Filters, epilogue, halves, oh, ow);
            Support.Numerics.AssertBitEqual(y, halves, $"output transform by filters {c}");

            var g = ConvGeometry.Create(c.Height, c.Width, c.Channels, 3, 1, same: false);
            var direct = new float[oh * ow * c.Filters];
            Convolution.ForwardScalar(x, w, bias, g, c.Filters, direct);
            for (int i = 0; i < direct.Length; i++)
            {
                float expected = epilogue.Apply(direct[i], i % c.Filters);
                // The 6×6 transforms scale values by up to ~100 before the output transform brings
                // them back, so the error is measured against the magnitude of the sum, M = |scale|·(|bias|
                // + Σ|x·w|), not against the result (which cancellation can make small): over 100,000
                // random cases it reached 276·u·M (one channel, where the transforms dominate; ~30·u·M
                // with 24). A wrong coefficient or index moves an output by the order of M itself.
                int f = i % c.Filters, pixel = i / c.Filters, oy = pixel / ow, ox = pixel % ow;
                double magnitude = Math.Abs(bias[f]);
                for (int k = 0; k < 9; k++)
                {
                    for (int ch = 0; ch < c.Channels; ch++)
                    {
                        magnitude += Math.Abs(x[((oy + k / 3) * c.Width + ox + k % 3) * c.Channels + ch] * w[(k * c.Channels + ch) * c.Filters + f]);
                    }
                }
                magnitude *= c.Affine ? Math.Abs(scale[f]) : 1;
                Assert.True(Math.Abs(expected - y[i]) <= 1000 * Support.Numerics.U32 * magnitude, $"{c}: output {i} is {y[i]}, direct {expected}, magnitude {magnitude}");
            }
        });

    [Property(MaxTest = 100)]
    public Property Affine_and_MaxPool_equal_their_scalar_twins_and_the_training_pool()
        => Prop.ForAll(
            (from pool in Gen.Choose(1, 3)
             from stride in Gen.Choose(1, 3)
             from height in Gen.Choose(3, 9)
             from width in Gen.Choose(3, 9)
             from channels in Gen.Choose(1, 40)
             from seed in Gen.Choose(0, int.MaxValue)
             select (pool, stride, height, width, channels, seed)).ToArbitrary(),
            c =>
            {
                var rng = new Rng((ulong)c.seed);
                var x = Random(ref rng, c.height * c.width * c.channels);
                var scale = Random(ref rng, c.channels);
                var shift = Random(ref rng, c.channels);
                var a = x.ToArray();
                var aScalar = x.ToArray();
                InferencePasses.Affine(a, scale, shift, c.channels);
                InferencePasses.AffineScalar(aScalar, scale, shift, c.channels);
                Support.Numerics.AssertBitEqual(aScalar, a, "affine");

                var g = ConvGeometry.Create(c.height, c.width, c.channels, c.pool, c.stride, same: false);
                var y = new float[g.OutPixels * c.channels];
                var yScalar = new float[y.Length];
                var yTraining = new float[y.Length];
                InferencePasses.MaxPool(x, g, y);
                InferencePasses.MaxPoolScalar(x, g, yScalar);
                Pooling.MaxForwardScalar(x, g, yTraining, new int[y.Length]);
                Support.Numerics.AssertBitEqual(yScalar, y, "max pool");
                Support.Numerics.AssertBitEqual(yTraining, y, "max pool against the training pool");
            });

    [Fact]
    public void Transforms_refuse_buffers_too_small()
    {
        var x = new float[5 * 5 * 8];
        var v = new float[Winograd.Points * 4 * 8 - 1];
        Assert.Throws<ArgumentException>(() => Winograd.TransformInput(x, 5, 5, 8, 2, 2, v, 0, 4 * 8));
        var m = new float[Winograd.Points * 4 * 8];
        var bias = new float[8];
        Assert.Throws<ArgumentException>(() => Winograd.TransformOutput(m, 0, 4 * 8, 2, 2, 8, new ConvEpilogue(bias, false, default, default, false), new float[3 * 3 * 8 - 1], 3, 3));
        Assert.Throws<ArgumentException>(() => Winograd.TransformOutput(m, 0, 4 * 8, 2, 2, 8, new ConvEpilogue(new float[7], false, default, default, false), new float[3 * 3 * 8], 3, 3));
    }
}
