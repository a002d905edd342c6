using Convnet.Kernels;
using Convnet.Runtime;
using Convnet.Tests.Support;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit;

namespace Convnet.Tests.Kernels;

/// <summary>
/// The vectorised element-wise drivers against their scalar twins, bit for bit: each element is one
/// IEEE operation (max, select, add), so vector and scalar must agree exactly, including for NaN,
/// infinities, signed zeros and subnormals, whichever part of the span (512-bit body, 256-bit body
/// or scalar tail) an element falls in.
/// </summary>
public class ElementwiseTests
{
    private static readonly int[] EdgeLengths = [0, 1, 7, 8, 9, 15, 16, 17, 23, 24, 31, 32, 33, 47, 48, 63, 64, 65, 127, 128, 129];

    private static Gen<int> Lengths => Gen.Frequency((3, Gen.Elements(EdgeLengths)), (2, Gen.Choose(0, 300)), (1, Gen.Choose(1000, 1100)));

    public sealed record MapCase(int Length, int Offset, int Seed);

    private static Arbitrary<MapCase> Cases =>
        (from length in Lengths
         from offset in Gen.Choose(0, 3)
         from seed in Gen.Choose(0, int.MaxValue)
         select new MapCase(length, offset, seed)).ToArbitrary();

    private static readonly float[] Specials =
    [
        float.NaN, float.PositiveInfinity, float.NegativeInfinity, 0f, -0f, float.Epsilon, -float.Epsilon,
        1e-40f, -1e-40f, float.MaxValue, float.MinValue, 1f, -1f,
    ];

    /// <summary>Random values with a sprinkling of special ones, in a buffer <paramref name="offset"/> floats in (unaligned starts).</summary>
    private static float[] Values(ref Rng rng, int length, int offset)
    {
        var values = new float[offset + length];
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = rng.NextInt(8) == 0 ? Specials[rng.NextInt(Specials.Length)] : rng.NextFloat(-2, 2);
        }
        return values;
    }

    [Property(MaxTest = 100)]
    public Property Relu_Map_equals_MapScalar_bit_for_bit()
        => Prop.ForAll(Cases, c =>
        {
            var rng = new Rng((ulong)c.Seed);
            var x = Values(ref rng, c.Length, c.Offset).AsSpan(c.Offset);
            var expected = new float[c.Length];
            var actual = new float[c.Length];
            Elementwise.MapScalar<ReluOperator>(x, expected);
            Elementwise.Map<ReluOperator>(x, actual);
            Numerics.AssertBitEqual(expected, actual, $"ReLU {c}");
            // In place (y aliases x) gives the same.
            var inPlace = x.ToArray();
            Elementwise.Map<ReluOperator>(inPlace, inPlace);
            Numerics.AssertBitEqual(expected, inPlace, $"in-place ReLU {c}");
        });

    [Property(MaxTest = 100)]
    public Property ReluGradient_Map_equals_MapScalar_bit_for_bit()
        => Prop.ForAll(Cases, c => CheckBinary<ReluGradientOperator>(c));

    [Property(MaxTest = 100)]
    public Property Add_Map_equals_MapScalar_bit_for_bit()
        => Prop.ForAll(Cases, c => CheckBinary<AddOperator>(c));

    private static void CheckBinary<TOp>(MapCase c) where TOp : IBinaryOperator
    {
        var rng = new Rng((ulong)c.Seed);
        var x = Values(ref rng, c.Length, c.Offset).AsSpan(c.Offset);
        var y = Values(ref rng, c.Length, 0);
        var expected = new float[c.Length];
        var actual = new float[c.Length];
        Elementwise.MapScalar<TOp>(x, y, expected);
        Elementwise.Map<TOp>(x, y, actual);
        Numerics.AssertBitEqual(expected, actual, $"{typeof(TOp).Name} {c}");
        var inPlace = y.ToArray();
        Elementwise.Map<TOp>(x, inPlace, inPlace);
        Numerics.AssertBitEqual(expected, inPlace, $"in-place {typeof(TOp).Name} {c}");
    }

    [Property(MaxTest = 100)]
    public Property Scale_Map_equals_MapScalar_bit_for_bit()
        => Prop.ForAll(Cases, c => CheckParametricUnary<ScaleOperator>(c));

    [Property(MaxTest = 100)]
    public Property AddScaled_Map_equals_MapScalar_bit_for_bit()
        => Prop.ForAll(Cases, c => CheckParametricBinary<AddScaledOperator>(c));

    private static void CheckParametricUnary<TOp>(MapCase c) where TOp : IParametricUnaryOperator
    {
        var rng = new Rng((ulong)c.Seed);
        var x = Values(ref rng, c.Length, c.Offset).AsSpan(c.Offset);
        float a = rng.NextInt(4) == 0 ? Specials[rng.NextInt(Specials.Length)] : rng.NextFloat(-2, 2);
        var expected = new float[c.Length];
        var actual = new float[c.Length];
        Elementwise.MapScalar<TOp>(x, a, expected);
        Elementwise.Map<TOp>(x, a, actual);
        Numerics.AssertBitEqual(expected, actual, $"{typeof(TOp).Name} a={a} {c}");
        var inPlace = x.ToArray();
        Elementwise.Map<TOp>(inPlace, a, inPlace);
        Numerics.AssertBitEqual(expected, inPlace, $"in-place {typeof(TOp).Name} a={a} {c}");
    }

    private static void CheckParametricBinary<TOp>(MapCase c) where TOp : IParametricBinaryOperator
    {
        var rng = new Rng((ulong)c.Seed);
        var x = Values(ref rng, c.Length, c.Offset).AsSpan(c.Offset);
        var y = Values(ref rng, c.Length, 0);
        float a = rng.NextInt(4) == 0 ? Specials[rng.NextInt(Specials.Length)] : rng.NextFloat(-2, 2);
        var expected = new float[c.Length];
        var actual = new float[c.Length];
        Elementwise.MapScalar<TOp>(x, y, a, expected);
        Elementwise.Map<TOp>(x, y, a, actual);
        Numerics.AssertBitEqual(expected, actual, $"{typeof(TOp).Name} a={a} {c}");
        var inPlace = x.ToArray();
        Elementwise.Map<TOp>(inPlace, y, a, inPlace);
        Numerics.AssertBitEqual(expected, inPlace, $"in-place {typeof(TOp).Name} a={a} {c}");
    }

    [Fact]
    public void Scale_and_AddScaled_round_each_operation()
    {
        var y = new float[1];
        Elementwise.MapScalar<ScaleOperator>([3f], 0.5f, y);
        Assert.Equal(1.5f, y[0]);
        // 1 + (1 + 2^-23)·(1 - 2^-24) rounds the product first: a fused multiply-add would differ.
        float x = 1f, b = 1f + MathF.Pow(2, -23), a = 1f - MathF.Pow(2, -24);
        var z = new float[1];
        Elementwise.MapScalar<AddScaledOperator>([x], [b], a, z);
        Assert.Equal(x + (b * a), z[0]);
    }

    [Fact]
    public void Relu_and_its_gradient_on_special_values()
    {
        float[] x = [-0f, 0f, -1f, 2f, float.Epsilon, float.NegativeInfinity, float.PositiveInfinity];
        var y = new float[x.Length];
        Elementwise.MapScalar<ReluOperator>(x, y);
        Numerics.AssertBitEqual([0f, 0f, 0f, 2f, float.Epsilon, 0f, float.PositiveInfinity], y, "ReLU");
        var dx = new float[x.Length];
        Elementwise.MapScalar<ReluGradientOperator>(x, [1f, 2f, 3f, 4f, 5f, 6f, 7f], dx);
        Numerics.AssertBitEqual([0f, 0f, 0f, 4f, 5f, 0f, 7f], dx, "ReLU gradient");
    }

    [Property(MaxTest = 100)]
    public Property BytesToUnit_is_x_over_255_bit_for_bit()
        => Prop.ForAll(Cases, c =>
        {
            var rng = new Rng((ulong)c.Seed);
            var bytes = new byte[c.Offset + c.Length];
            for (int i = 0; i < bytes.Length; i++)
            {
                bytes[i] = (byte)rng.NextInt(256);
            }
            var x = bytes.AsSpan(c.Offset);
            var y = new float[c.Length];
            Elementwise.BytesToUnit(x, y);
            var expected = new float[c.Length];
            for (int i = 0; i < expected.Length; i++)
            {
                expected[i] = x[i] / 255f;
            }
            Numerics.AssertBitEqual(expected, y, $"BytesToUnit {c}");
        });

    [Fact]
    public void BytesToUnit_maps_every_byte_to_its_quotient_in_the_vector_body_and_the_tail()
    {
        // 256 + 256 + 7 bytes: every value in the vector body, twice, then a tail.
        var bytes = new byte[519];
        for (int i = 0; i < bytes.Length; i++)
        {
            bytes[i] = (byte)(i * 7 % 256);
        }
        var y = new float[bytes.Length];
        Elementwise.BytesToUnit(bytes, y);
        for (int i = 0; i < bytes.Length; i++)
        {
            Assert.Equal(bytes[i] / 255f, y[i]);
        }
        Assert.Equal(0f, y[0]);
        Assert.Equal(1f, y[Array.IndexOf(bytes, (byte)255)]);
    }

    [Property(MaxTest = 100)]
    public Property AddColumnSums_equals_the_row_by_row_scalar_sum_bit_for_bit()
        => Prop.ForAll(
            (from rows in Gen.Choose(0, 40)
             from cols in Gen.Frequency((3, Gen.Elements(EdgeLengths)), (1, Gen.Choose(1, 80)))
             from seed in Gen.Choose(0, int.MaxValue)
             select (rows, cols, seed)).ToArbitrary(),
            c =>
            {
                var rng = new Rng((ulong)c.seed);
                var x = Values(ref rng, c.rows * c.cols, 0);
                var sums = Values(ref rng, c.cols, 0);
                var expected = (float[])sums.Clone();
                for (int j = 0; j < c.cols; j++)
                {
                    for (int r = 0; r < c.rows; r++)
                    {
                        expected[j] += x[r * c.cols + j];
                    }
                }
                Elementwise.AddColumnSums(x, c.rows, sums);
                Numerics.AssertBitEqual(expected, sums, $"column sums {c}");
            });

    [Fact]
    public void AddBias_and_AddColumnSums()
    {
        float[] x = [1, 2, 3, 4, 5, 6];
        Elementwise.AddBias(x, [10, 20, 30], rows: 2);
        Assert.Equal([11f, 22f, 33f, 14f, 25f, 36f], x);
        float[] sums = [1, 1, 1];
        Elementwise.AddColumnSums(x, rows: 2, sums);
        Assert.Equal([26f, 48f, 70f], sums);
    }
}
