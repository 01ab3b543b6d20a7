package app

import "sigs.k8s.io/controller-runtime/pkg/metrics/filters"

// metricsAuthFilter authenticates metrics requests with TokenReviews and
// authorizes them with SubjectAccessReviews. It brings in k8s.io/apiserver,
// hence the build tag until go.mod requires it.
var metricsAuthFilter = filters.WithAuthenticationAndAuthorization
