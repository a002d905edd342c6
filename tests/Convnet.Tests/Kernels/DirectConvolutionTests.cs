using Convnet.Kernels;
using Convnet.Runtime;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit;

namespace Convnet.Tests.Kernels;

/// <summary>
/// The inference kernels of first layers and batch-1 products: the direct convolution against its
/// scalar twin bit for bit and against im2col's reference within rounding (padding, strides,
/// pooling, the affine; filters of 32-wide and 8-wide blocks and the twin's odd counts), and the
/// one-row product against the blocked GEMM bit for bit (a sample's bits do not depend on its batch);
/// the direct weight gradient of training against its scalar twin bit for bit and colsᵀ·dy in double.
/// </summary>
public class DirectConvolutionTests
{
    public sealed record DirectCase(int Height, int Width, int Channels, int Kernel, int Stride, bool Same, int Filters, bool Relu, bool Affine, bool Pool, int Seed);

    private static Arbitrary<DirectCase> Cases =>
        (from height in Gen.Choose(5, 12)
         from width in Gen.Choose(5, 12)
         from channels in Gen.Choose(1, 4)
         from kernel in Gen.Choose(1, 5)
         from stride in Gen.Choose(1, 2)
         from same in Gen.Elements(false, true)
         from filters in Gen.Elements(3, 8, 16, 32, 40, 64)
         from relu in Gen.Elements(false, true)
         from affine in Gen.Elements(false, true)
         from pool in Gen.Elements(false, true)
         from seed in Gen.Choose(0, int.MaxValue)
         select new DirectCase(height, width, channels, kernel, stride, same, filters, relu, affine, pool, seed)).ToArbitrary();

    [Property(MaxTest = 150)]
    public Property Forward_equals_its_scalar_twin_and_the_im2col_reference()
        => Prop.ForAll(Cases, c =>
        {
            var rng = new Rng((ulong)c.Seed);
            var g = ConvGeometry.Create(c.Height, c.Width, c.Channels, c.Kernel, c.Stride, c.Same);
            if (g.OutHeight < 2 || g.OutWidth < 2)
            {
                return;
            }
            var x = Support.Numerics.Uniform(ref rng, c.Height * c.Width * c.Channels);
            var w = Support.Numerics.Uniform(ref rng, g.PatchSize * c.Filters);
            var bias = Support.Numerics.Uniform(ref rng, c.Filters);
            var scale = c.Affine ? Support.Numerics.Uniform(ref rng, c.Filters, 0.5f, 2) : [];
            var shift = c.Affine ? Support.Numerics.Uniform(ref rng, c.Filters) : [];
            var epilogue = new ConvEpilogue(bias, c.Relu, scale, shift, c.Pool);
            int outputs = (c.Pool ? (g.OutHeight / 2) * (g.OutWidth / 2) : g.OutPixels) * c.Filters;
            var y = new float[outputs];
            var yScalar = new float[outputs];
            DirectConvolution.Forward(x, w, g, c.Filters, epilogue, y);
            DirectConvolution.ForwardScalar(x, w, g, c.Filters, epilogue, yScalar);
            Support.Numerics.AssertBitEqual(yScalar, y, $"direct {c}");

            var plain = new float[g.OutPixels * c.Filters];
            Convolution.ForwardScalar(x, w, bias, g, c.Filters, plain);
            for (int i = 0; i < plain.Length; i++)
            {
                plain[i] = epilogue.Apply(plain[i], i % c.Filters);
            }
            var expected = plain;
            if (c.Pool)
            {
                expected = new float[outputs];
                InferencePasses.MaxPoolScalar(plain, ConvGeometry.Create(g.OutHeight, g.OutWidth, c.Filters, 2, 2, same: false), expected);
            }
            for (int i = 0; i < outputs; i++)
            {
                Assert.True(Math.Abs(expected[i] - y[i]) <= 1e-5f * (1 + Math.Abs(expected[i])), $"{c}: output {i} is {y[i]}, reference {expected[i]}");
            }
        });

    [Property(MaxTest = 150)]
    public Property WeightGradient_equals_its_scalar_twin_and_the_im2col_reference()
        => Prop.ForAll(Cases, c =>
        {
            var rng = new Rng((ulong)c.Seed);
            var g = ConvGeometry.Create(c.Height, c.Width, c.Channels, c.Kernel, c.Stride, c.Same);
            if (g.OutHeight < 1 || g.OutWidth < 1)
            {
                return;
            }
            var x = Support.Numerics.Uniform(ref rng, c.Height * c.Width * c.Channels);
            var dy = Support.Numerics.Uniform(ref rng, g.OutPixels * c.Filters);
            // Accumulated into what is there.
            var dw = Support.Numerics.Uniform(ref rng, g.PatchSize * c.Filters);
            var db = Support.Numerics.Uniform(ref rng, c.Filters);
            var dwScalar = dw.ToArray();
            var dbScalar = db.ToArray();
            var dwStart = dw.ToArray();
            var dbStart = db.ToArray();
            DirectConvolution.WeightGradient(x, dy, g, c.Filters, dw, db);
            DirectConvolution.WeightGradientScalar(x, dy, g, c.Filters, dwScalar, dbScalar);
            Support.Numerics.AssertBitEqual(dwScalar, dw, $"dw {c}");
            Support.Numerics.AssertBitEqual(dbScalar, db, $"db {c}");

            // Against colsᵀ·dy in double.
            var col = new float[g.OutPixels * g.PatchSize];
            Convolution.Im2Col(x, g, col);
            for (int f = 0; f < c.Filters; f++)
            {
                double bias = dbStart[f], biasScale = Math.Abs(dbStart[f]);
                for (int p = 0; p < g.OutPixels; p++)
                {
                    bias += dy[p * c.Filters + f];
                    biasScale += Math.Abs(dy[p * c.Filters + f]);
                }
                Assert.True(Math.Abs(bias - db[f]) <= 1e-5 * (1 + biasScale), $"{c}: db[{f}] is {db[f]}, reference {bias}");
                for (int t = 0; t < g.PatchSize; t++)
                {
                    double sum = dwStart[t * c.Filters + f], scale = Math.Abs(sum);
                    for (int p = 0; p < g.OutPixels; p++)
                    {
                        double term = (double)col[p * g.PatchSize + t] * dy[p * c.Filters + f];
                        sum += term;
                        scale += Math.Abs(term);
                    }
                    Assert.True(Math.Abs(sum - dw[t * c.Filters + f]) <= 1e-5 * (1 + scale), $"{c}: dw[{t}, {f}] is {dw[t * c.Filters + f]}, reference {sum}");
                }
            }
        });

    [Property(MaxTest = 100)]
    public Property Gemv_equals_the_blocked_product_and_its_scalar_twin()
        => Prop.ForAll(
            (from n in Gen.Choose(1, 150)
             from k in Gen.Choose(1, 700)
             from bias in Gen.Elements(false, true)
             from relu in Gen.Elements(false, true)
             from seed in Gen.Choose(0, int.MaxValue)
             select (n, k, bias, relu, seed)).ToArbitrary(),
            c =>
            {
                var rng = new Rng((ulong)c.seed);
                var a = Support.Numerics.Uniform(ref rng, c.k);
                var b = Support.Numerics.Uniform(ref rng, c.k * c.n);
                var bias = c.bias ? Support.Numerics.Uniform(ref rng, c.n) : [];
                var packed = new float[Gemm.PackedSize(c.n, c.k)];
                Gemm.PackB(b, c.n, false, c.n, c.k, packed);
                var y = new float[c.n];
                var blocked = new float[c.n];
                var scalar = new float[c.n];
                Gemv.MultiplyPacked(a, packed, c.n, c.k, y, bias, c.relu);
                Gemm.MultiplyPacked(a, c.k, false, packed, 1, c.n, c.k, blocked, c.n, accumulate: false, bias, c.relu);
                Gemv.MultiplyScalar(a, b, c.n, c.k, scalar, bias, c.relu);
                Support.Numerics.AssertBitEqual(blocked, y, $"gemv against the blocked product {c}");
                Support.Numerics.AssertBitEqual(scalar, y, $"gemv against its twin {c}");
            });

    [Property(MaxTest = 100)]
    public Property ForwardRows_in_bands_write_the_bits_of_Forward()
        => Prop.ForAll(Cases, Gen.Choose(1, 4).ToArbitrary(), (c, bands) =>
        {
            var g = ConvGeometry.Create(c.Height, c.Width, c.Channels, c.Kernel, c.Stride, c.Same);
            if (g.OutHeight < 2 || g.OutWidth < 2 || !DirectConvolution.IsAccelerated(c.Filters))
            {
                return;
            }
            var rng = new Rng((ulong)c.Seed);
            var x = Support.Numerics.Uniform(ref rng, c.Height * c.Width * c.Channels);
            var w = Support.Numerics.Uniform(ref rng, g.PatchSize * c.Filters);
            var bias = Support.Numerics.Uniform(ref rng, c.Filters);
            var scale = c.Affine ? Support.Numerics.Uniform(ref rng, c.Filters, 0.5f, 2) : [];
            var shift = c.Affine ? Support.Numerics.Uniform(ref rng, c.Filters) : [];
            var epilogue = new ConvEpilogue(bias, c.Relu, scale, shift, c.Pool);
            int rows = DirectConvolution.OutputRows(g, c.Pool);
            int outputs = rows * (c.Pool ? g.OutWidth / 2 : g.OutWidth) * c.Filters;
            var whole = new float[outputs];
            var banded = Enumerable.Repeat(float.NaN, outputs).ToArray();
            DirectConvolution.Forward(x, w, g, c.Filters, epilogue, whole);
            bands = Math.Min(bands, rows);
            // The bands in reverse order: each writes its rows only.
            for (int b = bands - 1; b >= 0; b--)
            {
                int first = b * rows / bands, end = (b + 1) * rows / bands;
                DirectConvolution.ForwardRows(x, w, g, c.Filters, epilogue, banded, first, end - first);
            }
            Support.Numerics.AssertBitEqual(whole, banded, $"direct by {bands} bands {c}");
        });

    [Property(MaxTest = 100)]
    public Property Gemv_by_bands_of_columns_writes_the_bits_of_the_whole_row()
        => Prop.ForAll(
            (from n in Gen.Choose(1, 300)
             from k in Gen.Choose(1, 700)
             from bias in Gen.Elements(false, true)
             from relu in Gen.Elements(false, true)
             from seed in Gen.Choose(0, int.MaxValue)
             select (n, k, bias, relu, seed)).ToArbitrary(),
            c =>
            {
                if (!Gemv.CanSplitColumns)
                {
                    return;
                }
                var rng = new Rng((ulong)c.seed);
                var a = Support.Numerics.Uniform(ref rng, c.k);
                var b = Support.Numerics.Uniform(ref rng, c.k * c.n);
                var bias = c.bias ? Support.Numerics.Uniform(ref rng, c.n) : [];
                var packed = new float[Gemm.PackedSize(c.n, c.k)];
                Gemm.PackB(b, c.n, false, c.n, c.k, packed);
                var whole = new float[c.n];
                var banded = Enumerable.Repeat(float.NaN, c.n).ToArray();
                Gemv.MultiplyPacked(a, packed, c.n, c.k, whole, bias, c.relu);
                for (int first = 0; first < c.n; first += Gemv.ColumnBlock)
                {
                    Gemv.MultiplyPackedColumns(a, packed, c.n, c.k, banded, bias, c.relu, first, Math.Min(Gemv.ColumnBlock, c.n - first));
                }
                Support.Numerics.AssertBitEqual(whole, banded, $"gemv by column blocks {c}");
            });

    [Property(MaxTest = 100)]
    public Property Gemv_of_a_few_rows_at_once_writes_each_rows_bits()
        => Prop.ForAll(
            (from rows in Gen.Choose(1, 4)
             from n in Gen.Choose(1, 150)
             from k in Gen.Choose(1, 700)
             from gap in Gen.Choose(0, 3)
             from bias in Gen.Elements(false, true)
             from relu in Gen.Elements(false, true)
             from seed in Gen.Choose(0, int.MaxValue)
             select (rows, n, k, gap, bias, relu, seed)).ToArbitrary(),
            c =>
            {
                var rng = new Rng((ulong)c.seed);
                int lda = c.k + c.gap, ldc = c.n + c.gap;
                var a = Support.Numerics.Uniform(ref rng, c.rows * lda);
                var b = Support.Numerics.Uniform(ref rng, c.k * c.n);
                var bias = c.bias ? Support.Numerics.Uniform(ref rng, c.n) : [];
                var packed = new float[Gemm.PackedSize(c.n, c.k)];
                Gemm.PackB(b, c.n, false, c.n, c.k, packed);
                var together = new float[c.rows * ldc];
                var oneByOne = new float[c.rows * ldc];
                Gemv.MultiplyPackedRows(a, lda, c.rows, packed, c.n, c.k, together, ldc, bias, c.relu);
                for (int r = 0; r < c.rows; r++)
                {
                    Gemv.MultiplyPacked(a.AsSpan(r * lda, c.k), packed, c.n, c.k, oneByOne.AsSpan(r * ldc, c.n), bias, c.relu);
                }
                Support.Numerics.AssertBitEqual(oneByOne, together, $"gemv of {c.rows} rows {c}");
            });
}
