using System.Globalization;
using Convnet.Kernels;
using Convnet.Layers;

namespace Convnet.Optimizers;

/// <summary>Adam (Kingma and Ba, 2015) with Keras's defaults: lr 1e-3, β1 0.9, β2 0.999, ε 1e-7.</summary>
public class Adam : Optimizer
{
    private readonly int _m, _v;

    /// <summary>
    /// Adam: m ← β1·m + (1−β1)·g, v ← β2·v + (1−β2)·g², w ← w − lr·(m/(1−β1ᵗ))/(√(v/(1−β2ᵗ)) + ε),
    /// as Keras's Adam (ε outside the root, added to the bias-corrected √v).
    /// </summary>
    /// <param name="learningRate">Step size lr; positive and finite.</param>
    /// <param name="beta1">Decay β1 of the first-moment average, in [0, 1).</param>
    /// <param name="beta2">Decay β2 of the second-moment average, in [0, 1).</param>
    /// <param name="epsilon">ε added to the denominator for stability; positive.</param>
    /// <param name="clipNorm">See <see cref="Optimizer.ClipNorm"/>; null for no clipping.</param>
    /// <param name="emaMomentum">See <see cref="Optimizer.EmaMomentum"/>; null for no moving average.</param>
    /// <exception cref="ArgumentOutOfRangeException">A setting outside its range.</exception>
    public Adam(float learningRate = 1e-3f, float beta1 = 0.9f, float beta2 = 0.999f, float epsilon = 1e-7f, float? clipNorm = null, float? emaMomentum = null)
        : this(learningRate, beta1, beta2, epsilon, clipNorm, weightDecay: 0, emaMomentum)
    {
    }

    /// <summary>For <see cref="AdamW"/>: decoupled weight decay λ.</summary>
    protected Adam(float learningRate, float beta1, float beta2, float epsilon, float? clipNorm, float weightDecay, float? emaMomentum)
        : base(learningRate, clipNorm, emaMomentum)
    {
        if (!(weightDecay >= 0) || float.IsInfinity(weightDecay))
        {
            throw new ArgumentOutOfRangeException(nameof(weightDecay), weightDecay, "weightDecay must be non-negative and finite.");
        }
        if (!(beta1 >= 0 && beta1 < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(beta1), beta1, "beta1 must be in [0, 1).");
        }
        if (!(beta2 >= 0 && beta2 < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(beta2), beta2, "beta2 must be in [0, 1).");
        }
        if (!(epsilon > 0))
        {
            throw new ArgumentOutOfRangeException(nameof(epsilon), epsilon, "epsilon must be positive.");
        }
        Beta1 = beta1;
        Beta2 = beta2;
        Epsilon = epsilon;
        WeightDecay = weightDecay;
        _m = AddSlot("momentum");
        _v = AddSlot("velocity");
    }

    /// <summary>Decoupled weight decay λ; 0 for plain Adam.</summary>
    public float WeightDecay { get; }
    /// <summary>Decay β1 of the first-moment (gradient) average.</summary>
    public float Beta1 { get; }
    /// <summary>Decay β2 of the second-moment (squared gradient) average.</summary>
    public float Beta2 { get; }
    /// <summary>ε added to the denominator for numerical stability.</summary>
    public float Epsilon { get; }
    /// <inheritdoc/>
    public override string Name => "adam";

    /// <inheritdoc/>
    public override IReadOnlyDictionary<string, string> Config => new Dictionary<string, string>
    {
        ["learning_rate"] = LearningRate.ToString("R", CultureInfo.InvariantCulture),
        ["weight_decay"] = WeightDecay.ToString("R", CultureInfo.InvariantCulture),
        ["beta_1"] = Beta1.ToString("R", CultureInfo.InvariantCulture),
        ["beta_2"] = Beta2.ToString("R", CultureInfo.InvariantCulture),
        ["epsilon"] = Epsilon.ToString("R", CultureInfo.InvariantCulture),
    };

    // The step's moments and bias corrections 1 − βᵗ.
    private float[][] _mValues = [], _vValues = [];
    private float _bc1, _bc2;

    /// <inheritdoc/>
    protected override void BeginUpdate(IReadOnlyList<Parameter> parameters)
    {
        _mValues = Slot(_m, parameters);
        _vValues = Slot(_v, parameters);
        _bc1 = (float)(1 - Math.Pow(Beta1, Iterations));
        _bc2 = (float)(1 - Math.Pow(Beta2, Iterations));
    }

    /// <inheritdoc/>
    protected override void Update(int index, Parameter parameter, int start, int count)
    {
        var w = parameter.Value.Slice(start, count);
        var g = parameter.Gradient.Slice(start, count);
        var m = _mValues[index].AsSpan(start, count);
        var v = _vValues[index].AsSpan(start, count);
        if (WeightDecay == 0)
        {
            OptimizerKernels.Adam(w, g, m, v, LearningRate, Beta1, Beta2, Epsilon, _bc1, _bc2);
        }
        else
        {
            OptimizerKernels.AdamW(w, g, m, v, LearningRate, Beta1, Beta2, Epsilon, _bc1, _bc2, WeightDecay);
        }
    }
}
