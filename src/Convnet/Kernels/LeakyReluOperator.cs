using System.Runtime.Intrinsics;

namespace Convnet.Kernels;

/// <summary>x where x &gt; 0, else a·x (Keras's LeakyReLU with negative_slope a); NaN stays NaN.</summary>
public readonly struct LeakyReluOperator : IParametricUnaryOperator
{
    /// <summary>x where x &gt; 0, else a·x.</summary>
    public static float Apply(float x, float a) => x > 0 ? x : x * a;
    /// <summary>x where x &gt; 0, else a·x, lane by lane.</summary>
    public static Vector256<float> Apply(Vector256<float> x, Vector256<float> a) => Vector256.ConditionalSelect(Vector256.GreaterThan(x, Vector256<float>.Zero), x, x * a);
    /// <summary>x where x &gt; 0, else a·x, lane by lane.</summary>
    public static Vector512<float> Apply(Vector512<float> x, Vector512<float> a) => Vector512.ConditionalSelect(Vector512.GreaterThan(x, Vector512<float>.Zero), x, x * a);
}

/// <summary>LeakyReLU backward: dy where the forward input x was positive, else a·dy.</summary>
public readonly struct LeakyReluGradientOperator : IParametricBinaryOperator
{
    /// <summary>dy where the forward input x &gt; 0, else a·dy.</summary>
    public static float Apply(float x, float dy, float a) => x > 0 ? dy : dy * a;
    /// <summary>dy where the forward input x &gt; 0, else a·dy, lane by lane.</summary>
    public static Vector256<float> Apply(Vector256<float> x, Vector256<float> dy, Vector256<float> a) => Vector256.ConditionalSelect(Vector256.GreaterThan(x, Vector256<float>.Zero), dy, dy * a);
    /// <summary>dy where the forward input x &gt; 0, else a·dy, lane by lane.</summary>
    public static Vector512<float> Apply(Vector512<float> x, Vector512<float> dy, Vector512<float> a) => Vector512.ConditionalSelect(Vector512.GreaterThan(x, Vector512<float>.Zero), dy, dy * a);
}
