using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Convnet.Kernels;

/// <summary>An element-wise operator y = f(x) at every vector width; the driver supplies the loop and tail.</summary>
public interface IUnaryOperator
{
    /// <summary>f(x) for one value.</summary>
    static abstract float Apply(float x);
    /// <summary>f(x) for 8 values at once; must equal the scalar form lane by lane.</summary>
    static abstract Vector256<float> Apply(Vector256<float> x);
    /// <summary>f(x) for 16 values at once; must equal the scalar form lane by lane.</summary>
    static abstract Vector512<float> Apply(Vector512<float> x);
}

/// <summary>An element-wise operator z = f(x, y) at every vector width.</summary>
public interface IBinaryOperator
{
    /// <summary>f(x, y) for one pair of values.</summary>
    static abstract float Apply(float x, float y);
    /// <summary>f(x, y) for 8 pairs at once; must equal the scalar form lane by lane.</summary>
    static abstract Vector256<float> Apply(Vector256<float> x, Vector256<float> y);
    /// <summary>f(x, y) for 16 pairs at once; must equal the scalar form lane by lane.</summary>
    static abstract Vector512<float> Apply(Vector512<float> x, Vector512<float> y);
}

/// <summary>An element-wise operator y = f(x; a) with a scalar parameter a, at every vector width.</summary>
public interface IParametricUnaryOperator
{
    /// <summary>f(x; a) for one value.</summary>
    static abstract float Apply(float x, float a);
    /// <summary>f(x; a) for 8 values at once, <paramref name="a"/> broadcast to every lane; must equal the scalar form lane by lane.</summary>
    static abstract Vector256<float> Apply(Vector256<float> x, Vector256<float> a);
    /// <summary>f(x; a) for 16 values at once, <paramref name="a"/> broadcast to every lane; must equal the scalar form lane by lane.</summary>
    static abstract Vector512<float> Apply(Vector512<float> x, Vector512<float> a);
}

/// <summary>An element-wise operator z = f(x, y; a) with a scalar parameter a, at every vector width.</summary>
public interface IParametricBinaryOperator
{
    /// <summary>f(x, y; a) for one pair of values.</summary>
    static abstract float Apply(float x, float y, float a);
    /// <summary>f(x, y; a) for 8 pairs at once, <paramref name="a"/> broadcast to every lane; must equal the scalar form lane by lane.</summary>
    static abstract Vector256<float> Apply(Vector256<float> x, Vector256<float> y, Vector256<float> a);
    /// <summary>f(x, y; a) for 16 pairs at once, <paramref name="a"/> broadcast to every lane; must equal the scalar form lane by lane.</summary>
    static abstract Vector512<float> Apply(Vector512<float> x, Vector512<float> y, Vector512<float> a);
}

/// <summary>x · a.</summary>
public readonly struct ScaleOperator : IParametricUnaryOperator
{
    /// <summary>x · a.</summary>
    public static float Apply(float x, float a) => x * a;
    /// <summary>x · a, lane by lane.</summary>
    public static Vector256<float> Apply(Vector256<float> x, Vector256<float> a) => x * a;
    /// <summary>x · a, lane by lane.</summary>
    public static Vector512<float> Apply(Vector512<float> x, Vector512<float> a) => x * a;
}

/// <summary>x + y · a (rounded twice, as written: no fused multiply-add).</summary>
public readonly struct AddScaledOperator : IParametricBinaryOperator
{
    /// <summary>x + y · a.</summary>
    public static float Apply(float x, float y, float a) => x + y * a;
    /// <summary>x + y · a, lane by lane.</summary>
    public static Vector256<float> Apply(Vector256<float> x, Vector256<float> y, Vector256<float> a) => x + y * a;
    /// <summary>x + y · a, lane by lane.</summary>
    public static Vector512<float> Apply(Vector512<float> x, Vector512<float> y, Vector512<float> a) => x + y * a;
}

/// <summary>max(x, 0); NaN stays NaN, as in the vector forms (IEEE 754-2019 maximum).</summary>
public readonly struct ReluOperator : IUnaryOperator
{
    /// <summary>max(x, 0).</summary>
    public static float Apply(float x) => MathF.Max(x, 0);
    /// <summary>max(x, 0), lane by lane.</summary>
    public static Vector256<float> Apply(Vector256<float> x) => Vector256.Max(x, Vector256<float>.Zero);
    /// <summary>max(x, 0), lane by lane.</summary>
    public static Vector512<float> Apply(Vector512<float> x) => Vector512.Max(x, Vector512<float>.Zero);
}

/// <summary>ReLU backward: dy where the forward input x was positive, else 0.</summary>
public readonly struct ReluGradientOperator : IBinaryOperator
{
    /// <summary>dy if x &gt; 0, else 0.</summary>
    public static float Apply(float x, float dy) => x > 0 ? dy : 0;
    /// <summary>dy if x &gt; 0, else 0, lane by lane.</summary>
    public static Vector256<float> Apply(Vector256<float> x, Vector256<float> dy) => Vector256.ConditionalSelect(Vector256.GreaterThan(x, Vector256<float>.Zero), dy, Vector256<float>.Zero);
    /// <summary>dy if x &gt; 0, else 0, lane by lane.</summary>
    public static Vector512<float> Apply(Vector512<float> x, Vector512<float> dy) => Vector512.ConditionalSelect(Vector512.GreaterThan(x, Vector512<float>.Zero), dy, Vector512<float>.Zero);
}

/// <summary>x + y.</summary>
public readonly struct AddOperator : IBinaryOperator
{
    /// <summary>x + y.</summary>
    public static float Apply(float x, float y) => x + y;
    /// <summary>x + y, lane by lane.</summary>
    public static Vector256<float> Apply(Vector256<float> x, Vector256<float> y) => x + y;
    /// <summary>x + y, lane by lane.</summary>
    public static Vector512<float> Apply(Vector512<float> x, Vector512<float> y) => x + y;
}

/// <summary>x · y.</summary>
public readonly struct MultiplyOperator : IBinaryOperator
{
    /// <summary>x · y.</summary>
    public static float Apply(float x, float y) => x * y;
    /// <summary>x · y, lane by lane.</summary>
    public static Vector256<float> Apply(Vector256<float> x, Vector256<float> y) => x * y;
    /// <summary>x · y, lane by lane.</summary>
    public static Vector512<float> Apply(Vector512<float> x, Vector512<float> y) => x * y;
}

/// <summary>Element-wise kernels: one driver per arity (Map) over operator structs, and the row and column helpers built on them.</summary>
public static partial class Elementwise
{
    /// <summary>y[i] = TOp(x[i]), widest vectors first, then a scalar tail. x and y may be the same span.</summary>
    public static void Map<TOp>(ReadOnlySpan<float> x, Span<float> y) where TOp : IUnaryOperator
    {
        CheckLengths(x.Length, y.Length);
        ref float xs = ref MemoryMarshal.GetReference(x);
        ref float ys = ref MemoryMarshal.GetReference(y);
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; i <= x.Length - Vector512<float>.Count; i += Vector512<float>.Count)
            {
                TOp.Apply(Vector512.LoadUnsafe(ref xs, (nuint)i)).StoreUnsafe(ref ys, (nuint)i);
            }
        }
        if (Vector256.IsHardwareAccelerated)
        {
            for (; i <= x.Length - Vector256<float>.Count; i += Vector256<float>.Count)
            {
                TOp.Apply(Vector256.LoadUnsafe(ref xs, (nuint)i)).StoreUnsafe(ref ys, (nuint)i);
            }
        }
        for (; i < x.Length; i++)
        {
            Unsafe.Add(ref ys, i) = TOp.Apply(Unsafe.Add(ref xs, i));
        }
    }

    /// <summary>z[i] = TOp(x[i], y[i]), widest vectors first, then a scalar tail. z may alias x or y.</summary>
    public static void Map<TOp>(ReadOnlySpan<float> x, ReadOnlySpan<float> y, Span<float> z) where TOp : IBinaryOperator
    {
        CheckLengths(x.Length, y.Length);
        CheckLengths(x.Length, z.Length);
        ref float xs = ref MemoryMarshal.GetReference(x);
        ref float ys = ref MemoryMarshal.GetReference(y);
        ref float zs = ref MemoryMarshal.GetReference(z);
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; i <= x.Length - Vector512<float>.Count; i += Vector512<float>.Count)
            {
                TOp.Apply(Vector512.LoadUnsafe(ref xs, (nuint)i), Vector512.LoadUnsafe(ref ys, (nuint)i)).StoreUnsafe(ref zs, (nuint)i);
            }
        }
        if (Vector256.IsHardwareAccelerated)
        {
            for (; i <= x.Length - Vector256<float>.Count; i += Vector256<float>.Count)
            {
                TOp.Apply(Vector256.LoadUnsafe(ref xs, (nuint)i), Vector256.LoadUnsafe(ref ys, (nuint)i)).StoreUnsafe(ref zs, (nuint)i);
            }
        }
        for (; i < x.Length; i++)
        {
            Unsafe.Add(ref zs, i) = TOp.Apply(Unsafe.Add(ref xs, i), Unsafe.Add(ref ys, i));
        }
    }

    /// <summary>y[i] = TOp(x[i]; a), widest vectors first, then a scalar tail. x and y may be the same span.</summary>
    public static void Map<TOp>(ReadOnlySpan<float> x, float a, Span<float> y) where TOp : IParametricUnaryOperator
    {
        CheckLengths(x.Length, y.Length);
        ref float xs = ref MemoryMarshal.GetReference(x);
        ref float ys = ref MemoryMarshal.GetReference(y);
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var a512 = Vector512.Create(a);
            for (; i <= x.Length - Vector512<float>.Count; i += Vector512<float>.Count)
            {
                TOp.Apply(Vector512.LoadUnsafe(ref xs, (nuint)i), a512).StoreUnsafe(ref ys, (nuint)i);
            }
        }
        if (Vector256.IsHardwareAccelerated)
        {
            var a256 = Vector256.Create(a);
            for (; i <= x.Length - Vector256<float>.Count; i += Vector256<float>.Count)
            {
                TOp.Apply(Vector256.LoadUnsafe(ref xs, (nuint)i), a256).StoreUnsafe(ref ys, (nuint)i);
            }
        }
        for (; i < x.Length; i++)
        {
            Unsafe.Add(ref ys, i) = TOp.Apply(Unsafe.Add(ref xs, i), a);
        }
    }

    /// <summary>z[i] = TOp(x[i], y[i]; a), widest vectors first, then a scalar tail. z may alias x or y.</summary>
    public static void Map<TOp>(ReadOnlySpan<float> x, ReadOnlySpan<float> y, float a, Span<float> z) where TOp : IParametricBinaryOperator
    {
        CheckLengths(x.Length, y.Length);
        CheckLengths(x.Length, z.Length);
        ref float xs = ref MemoryMarshal.GetReference(x);
        ref float ys = ref MemoryMarshal.GetReference(y);
        ref float zs = ref MemoryMarshal.GetReference(z);
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var a512 = Vector512.Create(a);
            for (; i <= x.Length - Vector512<float>.Count; i += Vector512<float>.Count)
            {
                TOp.Apply(Vector512.LoadUnsafe(ref xs, (nuint)i), Vector512.LoadUnsafe(ref ys, (nuint)i), a512).StoreUnsafe(ref zs, (nuint)i);
            }
        }
        if (Vector256.IsHardwareAccelerated)
        {
            var a256 = Vector256.Create(a);
            for (; i <= x.Length - Vector256<float>.Count; i += Vector256<float>.Count)
            {
                TOp.Apply(Vector256.LoadUnsafe(ref xs, (nuint)i), Vector256.LoadUnsafe(ref ys, (nuint)i), a256).StoreUnsafe(ref zs, (nuint)i);
            }
        }
        for (; i < x.Length; i++)
        {
            Unsafe.Add(ref zs, i) = TOp.Apply(Unsafe.Add(ref xs, i), Unsafe.Add(ref ys, i), a);
        }
    }

    /// <summary>The scalar twin of <see cref="Map{TOp}(ReadOnlySpan{float}, float, Span{float})"/>.</summary>
    public static void MapScalar<TOp>(ReadOnlySpan<float> x, float a, Span<float> y) where TOp : IParametricUnaryOperator
    {
        CheckLengths(x.Length, y.Length);
        for (int i = 0; i < x.Length; i++)
        {
            y[i] = TOp.Apply(x[i], a);
        }
    }

    /// <summary>The scalar twin of <see cref="Map{TOp}(ReadOnlySpan{float}, ReadOnlySpan{float}, float, Span{float})"/>.</summary>
    public static void MapScalar<TOp>(ReadOnlySpan<float> x, ReadOnlySpan<float> y, float a, Span<float> z) where TOp : IParametricBinaryOperator
    {
        CheckLengths(x.Length, y.Length);
        CheckLengths(x.Length, z.Length);
        for (int i = 0; i < x.Length; i++)
        {
            z[i] = TOp.Apply(x[i], y[i], a);
        }
    }

    /// <summary>The scalar twin of <see cref="Map{TOp}(ReadOnlySpan{float}, Span{float})"/>.</summary>
    public static void MapScalar<TOp>(ReadOnlySpan<float> x, Span<float> y) where TOp : IUnaryOperator
    {
        CheckLengths(x.Length, y.Length);
        for (int i = 0; i < x.Length; i++)
        {
            y[i] = TOp.Apply(x[i]);
        }
    }

    /// <summary>The scalar twin of <see cref="Map{TOp}(ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float})"/>.</summary>
    public static void MapScalar<TOp>(ReadOnlySpan<float> x, ReadOnlySpan<float> y, Span<float> z) where TOp : IBinaryOperator
    {
        CheckLengths(x.Length, y.Length);
        CheckLengths(x.Length, z.Length);
        for (int i = 0; i < x.Length; i++)
        {
            z[i] = TOp.Apply(x[i], y[i]);
        }
    }

    /// <summary>Adds <paramref name="bias"/> to every row of <paramref name="x"/> (a layer's bias after its GEMM).</summary>
    // x: [rows, cols], bias: [cols] → x[r, c] += bias[c]
    public static void AddBias(Span<float> x, ReadOnlySpan<float> bias, int rows)
    {
        int cols = bias.Length;
        CheckLengths(rows * cols, x.Length);
        for (int r = 0; r < rows; r++)
        {
            var row = x.Slice(r * cols, cols);
            Map<AddOperator>(row, bias, row);
        }
    }

    /// <summary>Adds each column's sum over the rows to <paramref name="sums"/>, row by row in order (a bias gradient).</summary>
    // x: [rows, cols] → sums[c] += Σ_r x[r, c], summed row by row in order
    public static void AddColumnSums(ReadOnlySpan<float> x, int rows, Span<float> sums)
    {
        int cols = sums.Length;
        CheckLengths(rows * cols, x.Length);
        ref float xs = ref MemoryMarshal.GetReference(x);
        ref float ss = ref MemoryMarshal.GetReference(sums);
        int j = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; j <= cols - Vector512<float>.Count; j += Vector512<float>.Count)
            {
                var acc = Vector512.LoadUnsafe(ref ss, (nuint)j);
                for (int r = 0; r < rows; r++)
                {
                    acc += Vector512.LoadUnsafe(ref xs, (nuint)(r * cols + j));
                }
                acc.StoreUnsafe(ref ss, (nuint)j);
            }
        }
        if (Vector256.IsHardwareAccelerated)
        {
            for (; j <= cols - Vector256<float>.Count; j += Vector256<float>.Count)
            {
                var acc = Vector256.LoadUnsafe(ref ss, (nuint)j);
                for (int r = 0; r < rows; r++)
                {
                    acc += Vector256.LoadUnsafe(ref xs, (nuint)(r * cols + j));
                }
                acc.StoreUnsafe(ref ss, (nuint)j);
            }
        }
        for (; j < cols; j++)
        {
            float acc = Unsafe.Add(ref ss, j);
            for (int r = 0; r < rows; r++)
            {
                acc += Unsafe.Add(ref xs, r * cols + j);
            }
            Unsafe.Add(ref ss, j) = acc;
        }
    }

    /// <summary>
    /// y[i] = x[i] / 255: bytes to [0, 1], a correctly rounded division as in Keras's x / 255.
    /// (Multiplying by the rounded reciprocal 1f / 255f is off by one ulp for 126 of the 256 byte values.)
    /// </summary>
    public static void BytesToUnit(ReadOnlySpan<byte> x, Span<float> y)
    {
        CheckLengths(x.Length, y.Length);
        const float divisor = 255f;
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            ref byte xs = ref MemoryMarshal.GetReference(x);
            ref float ys = ref MemoryMarshal.GetReference(y);
            var divisors = Vector512.Create(divisor);
            for (; i <= x.Length - Vector512<byte>.Count; i += Vector512<byte>.Count)
            {
                var bytes = Vector512.LoadUnsafe(ref xs, (nuint)i);
                var (lo, hi) = Vector512.Widen(bytes);
                var (a, b) = Vector512.Widen(lo);
                var (c, d) = Vector512.Widen(hi);
                (Vector512.ConvertToSingle(a.AsInt32()) / divisors).StoreUnsafe(ref ys, (nuint)i);
                (Vector512.ConvertToSingle(b.AsInt32()) / divisors).StoreUnsafe(ref ys, (nuint)(i + 16));
                (Vector512.ConvertToSingle(c.AsInt32()) / divisors).StoreUnsafe(ref ys, (nuint)(i + 32));
                (Vector512.ConvertToSingle(d.AsInt32()) / divisors).StoreUnsafe(ref ys, (nuint)(i + 48));
            }
        }
        for (; i < x.Length; i++)
        {
            y[i] = x[i] / divisor;
        }
    }

    private static void CheckLengths(int expected, int actual)
    {
        if (expected != actual)
        {
            throw new ArgumentException($"Span lengths differ: {expected} and {actual}.");
        }
    }
}
