using Convnet.Kernels;
using Convnet.Runtime;
using Convnet.Tests.Support;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit;

namespace Convnet.Tests.Kernels;

/// <summary>
/// The packed SIMD GEMM against its scalar twin, for all four transpose combinations, with and
/// without accumulation, dense and with leading dimensions.
///
/// Tolerance: both compute c_ij = Σ_p a_ip·b_pj in float32 but in different orders (the SIMD path
/// blocks k by KC and uses fused multiply-add, the twin multiplies and adds separately in k order).
/// Each path's error is at most γ·T_ij with T_ij = Σ_p |a_ip|·|b_pj| (+ |c_ij| when accumulating) and
/// γ = (k + 2)·u, u = 2⁻²⁴ (Higham, "Accuracy and Stability of Numerical Algorithms", §3.1: k − 1
/// additions, one product rounding, one accumulate). So they may differ by 2(k + 2)·u·T_ij, a
/// rigorous bound that no correct implementation can exceed; a wrong element, index or transpose
/// moves c_ij by the size of T_ij itself. The twin is also held to (k + 2)·u·T_ij of the
/// double-precision product.
/// </summary>
public class GemmTests
{
    // Around the microkernel's MR = 6 rows and NR = 16/32 columns, the blocking constants
    // MC = 96, KC = 256, NC = 1024, and the vector widths 8 and 16.
    private static readonly int[] EdgeSizes = [0, 1, 2, 5, 6, 7, 8, 15, 16, 17, 31, 32, 33, 47, 48, 63, 64, 65, 95, 96, 97, 130];
    private static readonly int[] DepthSizes = [0, 1, 2, 7, 16, 17, 33, 255, 256, 257, 300, 513];

    private static Gen<int> Rows => Gen.Frequency((3, Gen.Elements(EdgeSizes)), (2, Gen.Choose(0, 70)), (1, Gen.Elements(193, 200)));
    private static Gen<int> Depth => Gen.Frequency((3, Gen.Elements(DepthSizes)), (2, Gen.Choose(0, 70)));

    // n > NC = 1024 only with few rows, so that the scalar references stay cheap.
    private static Gen<int> Columns => Gen.Frequency((3, Gen.Elements(EdgeSizes)), (2, Gen.Choose(0, 70)), (1, Gen.Elements(1023, 1024, 1025, 1100)));

    public sealed record GemmCase(int M, int N, int K, bool TransA, bool TransB, bool Accumulate, int ExtraA, int ExtraB, int ExtraC, int Seed);

    private static Gen<GemmCase> Cases(bool leadingDimensions) =>
        from n in Columns
        from m in n > 200 ? Gen.Choose(0, 13) : Rows
        from k in Depth
        from transA in Gen.Elements(false, true)
        from transB in Gen.Elements(false, true)
        from accumulate in Gen.Elements(false, true)
        from extraA in leadingDimensions ? Gen.Choose(1, 9) : Gen.Constant(0)
        from extraB in leadingDimensions ? Gen.Choose(1, 9) : Gen.Constant(0)
        from extraC in leadingDimensions ? Gen.Choose(1, 9) : Gen.Constant(0)
        from seed in Gen.Choose(0, int.MaxValue)
        select new GemmCase(m, n, k, transA, transB, accumulate, extraA, extraB, extraC, seed);

    [Property(MaxTest = 150)]
    public Property Multiply_matches_MultiplyScalar_for_every_transpose_and_accumulate()
        => Prop.ForAll(Cases(leadingDimensions: false).ToArbitrary(), c =>
        {
            var rng = new Rng((ulong)c.Seed);
            var a = Numerics.Uniform(ref rng, c.M * c.K);
            var b = Numerics.Uniform(ref rng, c.K * c.N);
            var c0 = Numerics.Uniform(ref rng, c.M * c.N);
            var simd = (float[])c0.Clone();
            var scalar = (float[])c0.Clone();
            if (!c.Accumulate)
            {
                // Without accumulation c is write-only: stale NaNs must not leak into the result.
                simd.AsSpan().Fill(float.NaN);
                scalar.AsSpan().Fill(float.NaN);
            }
            Gemm.Multiply(a, c.TransA, b, c.TransB, c.M, c.N, c.K, simd, c.Accumulate);
            Gemm.MultiplyScalar(a, c.TransA, b, c.TransB, c.M, c.N, c.K, scalar, c.Accumulate);
            int lda = c.TransA ? c.M : c.K, ldb = c.TransB ? c.K : c.N;
            AssertClose(c, a, lda, b, ldb, c0, c.N, simd, scalar);
        });

    [Property(MaxTest = 100)]
    public Property Multiply_with_leading_dimensions_matches_MultiplyScalar_and_leaves_padding_alone()
        => Prop.ForAll(Cases(leadingDimensions: true).ToArbitrary(), c =>
        {
            var rng = new Rng((ulong)c.Seed);
            // Stored shapes: a is [k, lda] when transposed, else [m, lda]; likewise b; c is [m, ldc].
            int aRows = c.TransA ? c.K : c.M, aCols = c.TransA ? c.M : c.K;
            int bRows = c.TransB ? c.N : c.K, bCols = c.TransB ? c.K : c.N;
            int lda = aCols + c.ExtraA, ldb = bCols + c.ExtraB, ldc = c.N + c.ExtraC;
            // Padding columns hold NaN: reading one would poison the result.
            var a = Padded(ref rng, aRows, aCols, lda, float.NaN);
            var b = Padded(ref rng, bRows, bCols, ldb, float.NaN);
            const float Sentinel = -12345.5f;
            var c0 = Padded(ref rng, c.M, c.N, ldc, Sentinel);
            var simd = (float[])c0.Clone();
            var scalar = (float[])c0.Clone();
            Gemm.Multiply(a, lda, c.TransA, b, ldb, c.TransB, c.M, c.N, c.K, simd, ldc, c.Accumulate);
            Gemm.MultiplyScalar(a, lda, c.TransA, b, ldb, c.TransB, c.M, c.N, c.K, scalar, ldc, c.Accumulate);
            for (int i = 0; i < c.M; i++)
            {
                for (int j = c.N; j < ldc; j++)
                {
                    Assert.Equal(Sentinel, simd[i * ldc + j]);
                }
            }
            AssertClose(c, a, lda, b, ldb, c0, ldc, simd, scalar);
        });

    [Property(MaxTest = 100)]
    public Property MultiplyPacked_with_bias_matches_MultiplyScalar_with_bias()
        => Prop.ForAll(Cases(leadingDimensions: false).ToArbitrary(), c =>
        {
            var (a, lda, b, ldb, packed, c0, bias) = PackedOperands(c);
            var simd = (float[])c0.Clone();
            var scalar = (float[])c0.Clone();
            Gemm.MultiplyPacked(a, lda, c.TransA, packed, c.M, c.N, c.K, simd, c.N, accumulate: true, bias);
            Gemm.MultiplyScalar(a, lda, c.TransA, b, ldb, c.TransB, c.M, c.N, c.K, scalar, c.N, accumulate: true, bias);
            // Both round the k products, the bias and c: (k + 3)·u of the magnitudes each (Higham §3.1).
            double gamma = (c.K + 3) * Numerics.U32;
            for (int i = 0; i < c.M; i++)
            {
                for (int j = 0; j < c.N; j++)
                {
                    double magnitude = Math.Abs(c0[i * c.N + j]) + Math.Abs(bias[j]);
                    for (int p = 0; p < c.K; p++)
                    {
                        double x = c.TransA ? a[p * lda + i] : a[i * lda + p];
                        double y = c.TransB ? b[j * ldb + p] : b[p * ldb + j];
                        magnitude += Math.Abs(x * y);
                    }
                    Assert.True(Math.Abs(simd[i * c.N + j] - scalar[i * c.N + j]) <= 2 * gamma * magnitude + 1e-30, $"{c}: c[{i},{j}] packed {simd[i * c.N + j]}, scalar {scalar[i * c.N + j]}");
                }
            }
        });

    // A row of c must not depend on the rows computed with it: the rows [s, m) as a product of their
    // own put each row in another place of the microkernel's tiles (a full tile of MR rows, a short
    // last tile, the few-rows path), and each must give the whole product's bits.
    [Property(MaxTest = 100)]
    public Property A_row_of_c_has_the_same_bits_whatever_rows_share_its_tile()
        => Prop.ForAll(Cases(leadingDimensions: false).ToArbitrary(), Gen.Choose(0, 1000).ToArbitrary(), Gen.Elements(false, true).ToArbitrary(), (c, split, packed) =>
        {
            if (c.M == 0 || c.N == 0 || c.K == 0)
            {
                return;
            }
            int start = split % c.M;
            var (a, lda, b, ldb, packedB, c0, bias) = PackedOperands(c);
            var whole = (float[])c0.Clone();
            var part = (float[])c0.Clone();
            // Rows [start, m) of op(a): rows of a, or columns of a stored transposed.
            int offset = c.TransA ? start : start * lda;
            void Product(int rows, int aOffset, Span<float> target)
            {
                if (packed)
                {
                    Gemm.MultiplyPacked(a.AsSpan(aOffset), lda, c.TransA, packedB, rows, c.N, c.K, target, c.N, c.Accumulate, bias);
                }
                else
                {
                    Gemm.Multiply(a.AsSpan(aOffset), lda, c.TransA, b, ldb, c.TransB, rows, c.N, c.K, target, c.N, c.Accumulate, bias);
                }
            }
            Product(c.M, 0, whole);
            Product(c.M - start, offset, part.AsSpan(start * c.N));
            for (int i = start * c.N; i < c.M * c.N; i++)
            {
                Assert.True(BitConverter.SingleToInt32Bits(whole[i]) == BitConverter.SingleToInt32Bits(part[i]), $"{c}, rows from {start}, packed {packed}: c[{i / c.N},{i % c.N}] {whole[i]:R} in the whole product, {part[i]:R} in the rows' own");
            }
        });

    // Full panels of a transposed b go through 8×8 blocks in registers, the rest value by value:
    // either way the packed values are those of the explicit transpose, packed as it is.
    [Theory]
    [InlineData(32, 32)]
    [InlineData(64, 128)]
    [InlineData(1600, 64)]
    [InlineData(37, 45)]
    [InlineData(70, 300)]
    [InlineData(16, 7)]
    public void A_transposed_b_packs_as_its_explicit_transpose(int n, int k)
    {
        var rng = new Rng((ulong)(n * 1000 + k));
        // b: [n, k + 3], op(b) = bᵀ: [k, n]
        var b = Numerics.Uniform(ref rng, n * (k + 3));
        var explicitT = new float[k * n];
        for (int j = 0; j < n; j++)
        {
            for (int p = 0; p < k; p++)
            {
                explicitT[p * n + j] = b[j * (k + 3) + p];
            }
        }
        var packed = new float[Gemm.PackedSize(n, k)];
        var expected = new float[Gemm.PackedSize(n, k)];
        Gemm.PackB(b, k + 3, true, n, k, packed);
        Gemm.PackB(explicitT, n, false, n, k, expected);
        Assert.Equal(expected, packed);
    }

    [Theory]
    [InlineData(64, 1600, false)]
    [InlineData(1600, 64, true)]
    [InlineData(1100, 300, false)]
    [InlineData(1100, 300, true)]
    [InlineData(5, 7, false)]
    [InlineData(33, 257, true)]
    public void PackB_in_blocks_writes_what_PackB_writes(int n, int k, bool transB)
    {
        var rng = new Rng((ulong)(n * 7919 + k));
        int ldb = (transB ? k : n) + 2;
        var b = Numerics.Uniform(ref rng, (transB ? n : k) * ldb);
        var expected = new float[Gemm.PackedSize(n, k)];
        Gemm.PackB(b, ldb, transB, n, k, expected);
        var packed = new float[expected.Length];
        packed.AsSpan().Fill(float.NaN);
        int blocks = Gemm.PackBBlockCount(n, k);
        Assert.InRange(blocks, 1, int.MaxValue);
        // Last block first: no block may lean on another having run.
        for (int block = blocks - 1; block >= 0; block--)
        {
            Gemm.PackBBlock(b, ldb, transB, n, k, block, packed);
        }
        Assert.Equal(expected.Select(BitConverter.SingleToInt32Bits), packed.Select(BitConverter.SingleToInt32Bits));
        Assert.Throws<ArgumentOutOfRangeException>(() => Gemm.PackBBlock(b, ldb, transB, n, k, blocks, packed));
    }

    [Fact]
    public void MatMul_helpers_are_the_documented_transposes()
    {
        // a: 2×3, b: 3×2 → a·b = [[4, 5], [10, 11]] (hand-computed).
        float[] a = [1, 2, 3, 4, 5, 6];
        float[] b = [1, 0, 0, 1, 1, 1];
        var c = new float[4];
        Gemm.MatMul(a, b, 2, 2, 3, c);
        Assert.Equal([4f, 5f, 10f, 11f], c);
        // aᵀ stored as [3, 2] → the same product.
        float[] aT = [1, 4, 2, 5, 3, 6];
        Gemm.MatMulTransA(aT, b, 2, 2, 3, c);
        Assert.Equal([4f, 5f, 10f, 11f], c);
        // bᵀ stored as [2, 3], accumulating onto the previous result.
        float[] bT = [1, 0, 1, 0, 1, 1];
        Gemm.MatMulTransB(a, bT, 2, 2, 3, c, accumulate: true);
        Assert.Equal([8f, 10f, 20f, 22f], c);
    }

    // A case's dense operands, op(b) packed, a starting c and a bias, drawn from its seed.
    private static (float[] A, int Lda, float[] B, int Ldb, float[] PackedB, float[] C0, float[] Bias) PackedOperands(GemmCase c)
    {
        var rng = new Rng((ulong)c.Seed);
        var a = Numerics.Uniform(ref rng, c.M * c.K);
        var b = Numerics.Uniform(ref rng, c.K * c.N);
        var c0 = Numerics.Uniform(ref rng, c.M * c.N);
        var bias = Numerics.Uniform(ref rng, c.N);
        int lda = c.TransA ? c.M : c.K, ldb = c.TransB ? c.K : c.N;
        var packed = new float[Gemm.PackedSize(c.N, c.K)];
        Gemm.PackB(b, ldb, c.TransB, c.N, c.K, packed);
        return (a, lda, b, ldb, packed, c0, bias);
    }

    private static float[] Padded(ref Rng rng, int rows, int cols, int ld, float pad)
    {
        var values = new float[rows * ld];
        values.AsSpan().Fill(pad);
        for (int i = 0; i < rows; i++)
        {
            Numerics.Uniform(ref rng, values.AsSpan(i * ld, cols));
        }
        return values;
    }

    private static void AssertClose(GemmCase c, float[] a, int lda, float[] b, int ldb, float[] c0, int ldc, float[] simd, float[] scalar)
    {
        double gamma = (c.K + 2) * Numerics.U32;
        for (int i = 0; i < c.M; i++)
        {
            for (int j = 0; j < c.N; j++)
            {
                double exact = c.Accumulate ? c0[i * ldc + j] : 0;
                double magnitude = c.Accumulate ? Math.Abs(c0[i * ldc + j]) : 0;
                for (int p = 0; p < c.K; p++)
                {
                    double x = c.TransA ? a[p * lda + i] : a[i * lda + p];
                    double y = c.TransB ? b[j * ldb + p] : b[p * ldb + j];
                    exact += x * y;
                    magnitude += Math.Abs(x * y);
                }
                float s = simd[i * ldc + j], t = scalar[i * ldc + j];
                if (!(Math.Abs(s - t) <= 2 * gamma * magnitude) || !(Math.Abs(t - exact) <= gamma * magnitude))
                {
                    Assert.Fail($"{c}: c[{i},{j}] SIMD {s:R}, scalar {t:R}, exact {exact:R}, bound 2·{gamma * magnitude:E3}.");
                }
            }
        }
    }
}
